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
# Editable install: Alembic's migration scripts stay beside the code in /app/alembic.
RUN pip install --no-cache-dir -e . && useradd --system --uid 10001 docmgmt \
    && mkdir -p /app/var && chown docmgmt /app/var
USER docmgmt
EXPOSE 8000
CMD ["docmgmt", "serve", "--host", "0.0.0.0", "--port", "8000"]
