# Production image of the docmgmt API (used by docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY docmgmt docmgmt
COPY signing signing
COPY storage storage
COPY api api
COPY alembic alembic
COPY setup.py ./
# Editable install: Alembic's migration scripts stay beside the code in /app/alembic.
# gcc builds the ledger's bulk hashing module (docmgmt/ledger/_bulkhash.c) and is removed.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -e . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && python -c "from docmgmt.ledger import bulkhash; assert bulkhash.ACCELERATED" \
    && useradd --system --uid 10001 docmgmt && mkdir -p /app/var && chown docmgmt /app/var
USER docmgmt
EXPOSE 8000
CMD ["docmgmt", "serve", "--host", "0.0.0.0", "--port", "8000"]
