"""Composition root: builds every concrete adapter, once, inside the FastAPI lifespan."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import psycopg
from eventsourcing.projection import ProjectionRunner

from docmgmt import compat
from docmgmt.compat.eventsourcing import delay_pulls
from docmgmt.identity.context import IdentityContext
from docmgmt.identity.credentials import PostgresCredentialStore
from docmgmt.identity.secrets import with_jwt_secret
from docmgmt.identity.sessions import LoginLimits, PostgresAdminRoster, PostgresLoginThrottle
from docmgmt.incoming.delivery import (
    Dispatcher,
    PdfArrivalCheck,
    dispatcher_class,
    start_dispatcher,
)
from docmgmt.incoming.handling import IncomingContext
from docmgmt.incoming.queries import ExchangeQueries
from docmgmt.incoming.views import ExchangeViews, start_exchange_views
from docmgmt.kernel.db import Database, open_database
from docmgmt.kernel.holidays import VietnamHolidays
from docmgmt.kernel.migrations import require_migrated
from docmgmt.kernel.newblobs import PostgresBlobClaims
from docmgmt.kernel.pglocks import PostgresRegisterLock
from docmgmt.kernel.ports import BlobStore
from docmgmt.kernel.projections import ReadModelRecorder, ViewAnnouncements, tracking_view
from docmgmt.kernel.readpool import open_read_pool
from docmgmt.kernel.shared_log import pass_unhandled, shared_log, through_shared_log
from docmgmt.kernel.store import DocMgmt
from docmgmt.kernel.supervisor import ProjectionSupervisor, View, stop_all
from docmgmt.ledger.bundle import build_bundle
from docmgmt.ledger.checkpoint import CheckpointScheduler, write_checkpoint
from docmgmt.ledger.systemkeys import system_note_keys
from docmgmt.ledger.worker import Ledger, start_ledger
from docmgmt.outgoing.context import EvidenceBuilder, OutgoingContext
from docmgmt.outgoing.follower import SignatureFollower, pending_requests
from docmgmt.outgoing.queries import ReadModelQueries
from docmgmt.outgoing.views import ReadModel, start_read_model
from docmgmt.oversight.views import OversightViews, start_oversight_views
from docmgmt.settings import Settings
from docmgmt.webhooks import (
    TargetPolicy,
    WebhookOutbox,
    start_webhook_outbox,
    start_webhooks,
)
from signing.pades import PadesLevel
from signing.pdfcheck import PyHankoPdfInspector
from signing.registry import ConfiguredKeyRegistry
from signing.service import DevKeyRegistry, KeyRegistry, PadesService
from storage import (
    BlobCorruptedError,
    BlobNotFoundError,
    FilesystemBlobStore,
    S3BlobStore,
    spooled,
)

log = logging.getLogger("docmgmt")


def build_blob_store(settings: Settings) -> FilesystemBlobStore | S3BlobStore:
    """The configured object store (local folder by default, S3/MinIO in production)."""
    if settings.storage_backend == "s3":
        if settings.s3_access_key is None or settings.s3_secret_key is None:
            raise ValueError("DOCMGMT_S3_ACCESS_KEY and DOCMGMT_S3_SECRET_KEY must be set")
        return S3BlobStore(
            settings.s3_endpoint,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            retention_days=settings.s3_retention_days,
            retention_mode=settings.s3_retention_mode,
        )
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    return FilesystemBlobStore(settings.blob_dir)


def webhook_targets(settings: Settings) -> TargetPolicy:
    """Where webhooks may be delivered: public addresses and the configured exceptions."""
    return TargetPolicy.from_lists(settings.webhook_allowed_hosts,
                                   settings.webhook_allowed_networks)


@dataclass
class WriteSide:
    """Everything the commands need: application, stores and services (all synchronous)."""

    settings: Settings
    db: Database
    app: DocMgmt
    blobs: FilesystemBlobStore | S3BlobStore
    outgoing: OutgoingContext
    identity: IdentityContext
    signing: PadesService
    es_env: dict[str, str]
    incoming: IncomingContext
    # (signer, timestamper) of checkpoints; None where no system key is configured.
    note_keys: tuple[Any, Any] | None

    def arrival_check(self) -> PdfArrivalCheck:
        """Checks each issued file as the recipient receives it (storage's errors named)."""
        return PdfArrivalCheck(self.blobs, self.signing.validate, self.settings.spool_dir,
                               unreadable=(BlobCorruptedError, BlobNotFoundError))

    def dispatcher(self) -> type[Dispatcher]:
        """The dispatch process bound to this write side's store, validator and calendar."""
        return dispatcher_class(self.arrival_check(), self.incoming.holidays)

    def close(self) -> None:
        """Release connections and the embedded database handle."""
        self.app.close()
        self.db.close()


def build_write_side(settings: Settings, db: Database | None = None) -> WriteSide:
    """Open the database (refusing an unmigrated one) and build the command side."""
    compat.install()
    settings = with_jwt_secret(settings)
    db = db or open_database(settings)
    try:
        require_migrated(db)
        es_env = db.app.eventsourcing_env("docmgmt", settings.db_pool_size)
        app = DocMgmt(env=es_env)
    except BaseException:
        db.close()
        raise
    blobs = build_blob_store(settings)
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    keys = build_key_registry(settings)
    signing = PadesService(keys, PadesLevel(settings.pades_level))
    # The ledger's system key signs checkpoints: those of the workers and those an
    # evidence export asks for. Opened once.
    note_keys = system_note_keys(settings)
    locks = PostgresRegisterLock(db.app.conninfo())
    outgoing = OutgoingContext(
        store=app,
        blobs=blobs,
        inspector=PyHankoPdfInspector(),
        spool=partial(spooled, directory=settings.spool_dir),
        max_upload_bytes=settings.max_upload_bytes,
        signer=signing,
        locks=locks,
        work_dir=settings.spool_dir,
        claims=PostgresBlobClaims(db.app.conninfo()),
        evidence=evidence_builder(settings, db.app.conninfo(), blobs, signing, note_keys),
        providers=keys.provider,
        challenge_key=hashlib.sha256(
            b"certificate challenges\n" + _secret_bytes(settings)).digest(),
        request_minutes=(keys.config.signature_request_minutes
                         if isinstance(keys, ConfiguredKeyRegistry) else 10),
    )
    identity = build_identity(settings, app, locks)
    incoming = IncomingContext(store=app, blobs=blobs, locks=locks, holidays=VietnamHolidays())
    return WriteSide(settings, db, app, blobs, outgoing, identity, signing, es_env,
                     incoming, note_keys)


def evidence_builder(settings: Settings, conninfo: str, blobs: FilesystemBlobStore | S3BlobStore,
                     signing: PadesService, keys: tuple[Any, Any] | None) -> EvidenceBuilder:
    """Evidence bundles from the ledger, each behind a checkpoint signed now with the system
    key (none where no system key is configured)."""
    checkpoint = None if keys is None else partial(write_checkpoint, conninfo, *keys)

    def build(document_id: UUID) -> Path:
        return build_bundle(conninfo, document_id, blobs, settings.spool_dir,
                            validator=signing, checkpoint=checkpoint)

    return build


def build_identity(settings: Settings, app: DocMgmt, locks: PostgresRegisterLock
                   ) -> IdentityContext:
    """Identity with its credentials, login throttle and admin roster in PostgreSQL."""
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    limits = LoginLimits(
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_failure_window_seconds,
        lockout_seconds=settings.login_lockout_seconds,
        keep_rows=settings.login_failures_keep,
        keep_days=settings.login_failures_keep_days,
    )
    return IdentityContext(app, PostgresCredentialStore(app),
                           throttle=PostgresLoginThrottle(datastore, limits),
                           roster=PostgresAdminRoster(datastore, locks),
                           local_passwords=settings.local_passwords)


def _secret_bytes(settings: Settings) -> bytes:
    secret = settings.jwt_secret
    if secret is None:  # pragma: no cover - with_jwt_secret always sets it
        raise RuntimeError("the JWT secret is not set")
    return secret.get_secret_value().encode()


def build_key_registry(settings: Settings) -> KeyRegistry:
    """Configured keys in production; the development PKI (made on demand) otherwise."""
    if settings.keys_file is not None:
        return ConfiguredKeyRegistry(settings.keys_file)
    return DevKeyRegistry(settings.pki_dir)


def worker_env(es_env: dict[str, str]) -> dict[str, str]:
    """The environment of a background worker: each works one event at a time and listens
    through the shared log, so its pools start with no connection and open them on demand
    (a served app runs six)."""
    return {**es_env, "POSTGRES_POOL_SIZE": "0", "POSTGRES_MAX_OVERFLOW": "4"}


@dataclass(frozen=True)
class ReadSide:
    """The queries (asyncpg) and the views a command's answer waits for."""

    pool: asyncpg.Pool
    documents: ReadModelQueries
    exchange: ExchangeQueries
    # Waited on after every command: the read model, the exchange and oversight views.
    views: tuple[View, ...]
    # The webhook outbox follows only its own event types: waited on only for those.
    webhooks: View
    timeout: float

    def wait_for(self, position: int | None) -> bool:
        """Read-your-writes: whether every view has ``position`` (within the timeout)."""
        done = True
        for view in self.views:
            done = view.wait_for(position, self.timeout) and done
        return done


@dataclass(frozen=True)
class Container:
    """The running system as the API sees it: write side, read side, and the projections
    supervised in this process (none where ``docmgmt project`` runs them)."""

    write: WriteSide
    read: ReadSide
    workers: dict[str, ProjectionSupervisor]

    @property
    def settings(self) -> Settings:
        """The settings the system runs with."""
        return self.write.settings

    @property
    def blobs(self) -> BlobStore:
        """The object store."""
        return self.write.blobs

    @property
    def pool(self) -> asyncpg.Pool:
        """The read side's connection pool."""
        return self.read.pool

    @property
    def queries(self) -> ReadModelQueries:
        """Documents, users and agencies (asyncpg)."""
        return self.read.documents

    @property
    def exchange_reads(self) -> ExchangeQueries:
        """Inbox, outbox, registers, dashboard and search (asyncpg)."""
        return self.read.exchange

    def ping_database(self) -> None:
        """Raise psycopg.OperationalError at once if the database cannot be reached."""
        with psycopg.connect(self.write.db.app.conninfo(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    def wait_for_view(self, position: int | None) -> bool:
        """Read-your-writes: wait until the read models have caught up with ``position``."""
        return self.read.wait_for(position)

    def wait_for_webhooks(self, position: int | None) -> bool:
        """Read-your-writes for webhook subscriptions."""
        return self.read.webhooks.wait_for(position, self.read.timeout)


# How long a projection that no command's answer waits for lets events gather before it
# reads them: it then reads and processes several per wake-up, and stays off the path of
# the answers that wait for the read model.
GATHER_SECONDS = 0.05


def gathering(start: Callable[[dict[str, str]], Any]) -> Callable[[dict[str, str]], Any]:
    """``start``, with the runner reading the log at most every ``GATHER_SECONDS``."""
    def started(env: dict[str, str]) -> Any:
        runner = start(through_shared_log(env))
        delay_pulls(runner, GATHER_SECONDS)
        return runner
    return started


# How long a view that commands' answers wait for may hold the tracking rows of events
# that change none of its rows (the exchange views and a comment): its waiters are all in
# this process and go at once; the rows then commit several at a time.
TRACKING_ONLY_SECONDS = 0.1


def waited_on(start: Callable[[dict[str, str]], Any]) -> Callable[[dict[str, str]], Any]:
    """``start``, with the runner's view holding tracking-only batches for a while, and
    handed only the events its projection handles (markers for the rest): the exchange
    and oversight views step over a comment without decoding it."""
    def started(env: dict[str, str]) -> Any:
        runner = start(through_shared_log(env))
        runner.view.tracking_only_delay_seconds = TRACKING_ONLY_SECONDS
        pass_unhandled(runner)
        return runner
    return started


# The projections of the system, by the name /health reports them under: how each starts,
# and its tracking (for waits while its runner restarts). Here waiters are in-process.
def projections(write: WriteSide) -> dict[str, tuple[Callable[[dict[str, str]], Any], str]]:
    """Every projection: its starter and its tracking name."""
    return {
        "read_model": (waited_on(start_read_model), ReadModel.name),
        "ledger": (gathering(start_ledger), Ledger.name),
        "dispatch": (gathering(partial(start_dispatcher, dispatcher=write.dispatcher())),
                     Dispatcher.name),
        "webhooks": (gathering(start_webhook_outbox), WebhookOutbox.name),
        "exchange": (waited_on(start_exchange_views), ExchangeViews.name),
        "oversight": (waited_on(start_oversight_views), OversightViews.name),
    }


def _supervise(env: dict[str, str], name: str, start: Callable[[dict[str, str]], Any],
               tracking: str) -> ProjectionSupervisor:
    supervisor = ProjectionSupervisor(env, start=start, name=name,
                                      fallback_view=partial(tracking_view, tracking))
    supervisor.start()
    return supervisor


def start_workers(settings: Settings, write: WriteSide, env: dict[str, str],
                  stack: contextlib.ExitStack) -> dict[str, ProjectionSupervisor]:
    """Run every projection in this process, the checkpoints (signed with the system key)
    and the follower of pending signature requests, which only this process runs."""
    # Opened first, closed last: the views answers wait for read the log through it.
    stack.enter_context(shared_log(env))
    workers: dict[str, ProjectionSupervisor] = {}
    stack.callback(lambda: stop_all(list(workers.values())))
    for name, (start, tracking) in projections(write).items():
        workers[name] = _supervise(env, name, start, tracking)
    if write.note_keys is not None:
        checkpoints = CheckpointScheduler(
            write.db.app.conninfo(), *write.note_keys,
            every_events=settings.checkpoint_every_events,
            every_seconds=settings.checkpoint_every_seconds)
        checkpoints.start()
        stack.callback(checkpoints.stop)
    # Like the checkpoints, only the process running the projections follows the pending
    # signature requests (the view it reads is kept here).
    follower = SignatureFollower(write.outgoing, pending_requests(write.db.app.conninfo()))
    follower.start()
    stack.callback(follower.stop)
    return workers


def _view(workers: dict[str, ProjectionSupervisor], env: dict[str, str], name: str,
          tracking: str, announcements: ViewAnnouncements) -> View:
    if name in workers:
        return View.supervised(workers[name])
    return View.polled(announcements.hear(tracking_view(tracking, env)))


@contextlib.asynccontextmanager
async def running_container(settings: Settings) -> AsyncIterator[Container]:
    """Build the container for the app's lifetime and tear it down afterwards (in the
    reverse order: queries, webhook senders, projections, the write side)."""
    with contextlib.ExitStack() as stack:
        write = build_write_side(settings)
        stack.callback(write.close)
        env = worker_env(write.es_env)
        workers = start_workers(settings, write, env, stack) if settings.run_projections else {}
        # Deadline scans and HTTP deliveries run in every API process: rows are claimed
        # with SKIP LOCKED, so several processes never send the same delivery twice.
        stack.callback(start_webhooks(write.db.app.conninfo(),
                                      targets=webhook_targets(settings)).stop)
        # Where ``docmgmt project`` runs the views, their commits are announced: heard
        # here, they wake the waits that would otherwise poll the tracking tables.
        announcements = ViewAnnouncements()
        pool = await open_read_pool(write.db.app, max_size=settings.db_pool_size)
        try:
            read = ReadSide(
                pool=pool, documents=ReadModelQueries(pool), exchange=ExchangeQueries(pool),
                views=(_view(workers, env, "read_model", ReadModel.name, announcements),
                       _view(workers, env, "exchange", ExchangeViews.name, announcements),
                       _view(workers, env, "oversight", OversightViews.name,
                             announcements)),
                webhooks=_view(workers, env, "webhooks", WebhookOutbox.name, announcements),
                timeout=settings.read_your_writes_timeout)
            if not workers:
                announcements.start(partial(psycopg.connect, write.db.app.conninfo(),
                                            autocommit=True))
                stack.callback(announcements.stop)
            yield Container(write=write, read=read, workers=workers)
        finally:
            await pool.close()


@contextlib.contextmanager
def projection_process(
    settings: Settings,
) -> Iterator[ProjectionRunner[DocMgmt, ReadModelRecorder]]:
    """Run the projection on its own (``docmgmt project``)."""
    write = build_write_side(settings)
    try:
        env = worker_env(write.es_env)
        shared = through_shared_log(env)
        with shared_log(env), start_read_model(shared) as runner, start_ledger(shared), \
                start_dispatcher(shared, write.dispatcher()), \
                start_webhook_outbox(shared) as outbox, \
                start_exchange_views(shared) as exchange, \
                start_oversight_views(shared) as oversight:
            # The API's worker processes wait on these: each commit is announced to them.
            for waited in (runner, outbox, exchange, oversight):
                waited.view.announce = True
            yield runner
    finally:
        write.close()
