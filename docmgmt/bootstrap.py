"""Composition root: builds every concrete adapter, once, inside the FastAPI lifespan."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
import psycopg
from eventsourcing.projection import ProjectionRunner

from docmgmt import compat
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
from docmgmt.kernel.projection_health import (
    MAX_BACKOFF,
    ProjectionFailure,
    committed_position,
    describe,
    failing_position,
    head_position,
    tracking_recorder,
)
from docmgmt.kernel.projections import ReadModelRecorder, tracking_view
from docmgmt.kernel.store import DocMgmt
from docmgmt.ledger.checkpoint import CheckpointScheduler
from docmgmt.ledger.systemkeys import system_note_keys
from docmgmt.ledger.worker import start_ledger
from docmgmt.outgoing.context import OutgoingContext
from docmgmt.outgoing.queries import ReadModelQueries
from docmgmt.outgoing.views import ReadModel
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
    signing = PadesService(build_key_registry(settings), PadesLevel(settings.pades_level))
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
    )
    identity = build_identity(settings, app, locks)
    incoming = IncomingContext(store=app, blobs=blobs, locks=locks, holidays=VietnamHolidays())
    return WriteSide(settings, db, app, blobs, outgoing, identity, signing, es_env,
                     incoming)


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
                           roster=PostgresAdminRoster(datastore, locks))


def build_key_registry(settings: Settings) -> KeyRegistry:
    """Configured keys in production; the development PKI (made on demand) otherwise."""
    if settings.keys_file is not None:
        return ConfiguredKeyRegistry(settings.keys_file)
    return DevKeyRegistry(settings.pki_dir)


def worker_env(es_env: dict[str, str]) -> dict[str, str]:
    """The environment of a background worker: each works one event at a time, so its
    pools start with one connection and grow only on demand (a served app runs five)."""
    return {**es_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "4"}


def start_projections(es_env: dict[str, str]) -> ProjectionRunner[DocMgmt, ReadModelRecorder]:
    """Start the read-model projection in this process (exactly once via tracking)."""
    return ProjectionRunner(
        application_class=DocMgmt,
        projection_class=ReadModel,
        view_class=ReadModelRecorder,
        env=es_env,
    )


def view_recorder(es_env: dict[str, str]) -> ReadModelRecorder:
    """A handle on the read model's tracking, for read-your-writes waits."""
    return tracking_view(ReadModel.name, es_env)


class ProjectionSupervisor:
    """Keeps the in-process read-model projection running.

    The eventsourcing runner stops for good when its connection breaks (a database restart,
    say); the supervisor notices, logs it, and starts a new runner with backoff. Tracking
    makes the restart resume exactly where the last committed event left off.
    """

    def __init__(self, es_env: dict[str, str], start: Any = None, name: str = "read model",
                 fallback_view: Any = None) -> None:
        self._env = es_env
        self._start = start or start_projections
        self.name = name
        self._stop = threading.Event()
        self._runner: Any = None
        self._fallback_view = (fallback_view or view_recorder)(es_env)
        self.last_error: str | None = None
        # Set while the projection cannot get past an event (docmgmt.kernel.projection_health).
        self.failure: ProjectionFailure | None = None
        self.restarts = 0
        self._thread = threading.Thread(target=self._watch, name="projection-supervisor",
                                        daemon=True)

    @property
    def running(self) -> bool:
        """Whether a runner is processing events now."""
        runner = self._runner
        return runner is not None and not runner.is_interrupted.is_set()

    @property
    def view(self) -> ReadModelRecorder:
        """The current runner's view (wakes waiters at once), else a polling handle."""
        runner = self._runner
        if runner is not None and isinstance(runner.view, ReadModelRecorder):
            return runner.view
        return self._fallback_view

    def start(self) -> None:
        """Start the first runner (failing loudly if it cannot) and the watcher."""
        self._runner = self._new_runner()
        self._thread.start()

    def _new_runner(self) -> Any:
        runner = self._start(self._env)
        runner.__enter__()
        return runner

    def _close(self, runner: Any) -> None:
        if runner is not None:
            with contextlib.suppress(BaseException):
                runner.__exit__(None, None, None)

    @property
    def healthy(self) -> bool:
        """Running, and not stuck on an event."""
        return self.running and self.failure is None

    def _failed(self, runner: Any, exc: BaseException) -> float:
        """Report the failure; the seconds to wait before the next attempt."""
        position = failing_position(runner)
        previous = self.failure
        attempts = (previous.attempts + 1
                    if previous is not None and previous.position == position else 1)
        self.failure = ProjectionFailure(self.name, position, describe(exc), attempts)
        self.last_error = self.failure.error
        table = getattr(tracking_recorder(runner), "tracking_table_name", None)
        if table is not None:
            # The next attempt commits event by event up to here, to name the culprit.
            ReadModelRecorder.one_at_a_time_until[table] = max(head_position(runner),
                                                               position or 0)
        backoff: float = min(0.5 * 2 ** (attempts - 1), MAX_BACKOFF)
        log.error("%s projection failed at event %s (attempt %d): %s; retrying in %.1f s",
                  self.name, position, attempts, self.last_error, backoff)
        return backoff

    def _recovered(self, runner: Any) -> None:
        failure = self.failure
        if failure is None:
            return
        committed = committed_position(runner)
        if failure.position is None or (committed is not None
                                        and committed >= failure.position):
            self.failure = None
            log.info("%s projection got past event %s", self.name, failure.position)

    def _watch(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            runner = self._runner
            try:
                if runner is not None:
                    runner.run_forever(timeout=1.0)
                    # A batched view may fail in its idle flush, between events: restart
                    # from tracking now rather than at the next event.
                    failure = getattr(getattr(runner, "view", None), "failure", None)
                    if failure is not None:
                        raise failure
                    if not runner.is_interrupted.is_set():
                        self._recovered(runner)
                        backoff = 0.5
                        continue
                    if self._stop.is_set():
                        return
                    raise RuntimeError("the projection runner stopped")
            except Exception as exc:
                backoff = self._failed(runner, exc)
            self._runner = None
            self._close(runner)
            if self._stop.wait(backoff):
                return
            try:
                self._runner = self._new_runner()
                self.restarts += 1
                log.info("%s projection restarted", self.name)
            except Exception as exc:
                self.last_error = describe(exc)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def stop(self) -> None:
        """Stop watching and stop the runner."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._close(self._runner)
        self._runner = None


@dataclass
class Container:
    """The running system as the API sees it."""

    write: WriteSide
    pool: asyncpg.Pool
    queries: ReadModelQueries
    supervisor: ProjectionSupervisor | None = None
    polling_view: ReadModelRecorder | None = None
    ledger: ProjectionSupervisor | None = None
    dispatch: ProjectionSupervisor | None = None
    webhooks: ProjectionSupervisor | None = None
    exchange: ProjectionSupervisor | None = None
    exchange_polling_view: ReadModelRecorder | None = None
    webhooks_polling_view: ReadModelRecorder | None = None
    exchange_queries: ExchangeQueries | None = None
    closers: list[Any] = field(default_factory=list)

    @property
    def view(self) -> ReadModelRecorder:
        """The read model's tracking, for read-your-writes waits."""
        if self.supervisor is not None:
            return self.supervisor.view
        if self.polling_view is None:
            raise RuntimeError("the container has no read-model handle")
        return self.polling_view

    def ping_database(self) -> None:
        """Raise psycopg.OperationalError at once if the database cannot be reached."""
        with psycopg.connect(self.write.db.app.conninfo(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    @property
    def settings(self) -> Settings:
        """The settings the system runs with."""
        return self.write.settings

    @property
    def blobs(self) -> BlobStore:
        """The object store."""
        return self.write.blobs

    def wait_for_view(self, position: int | None) -> bool:
        """Read-your-writes: wait until the read models have caught up with ``position``."""
        timeout = self.settings.read_your_writes_timeout
        # A projection stuck on an event is reported by /health; waiting for it would only
        # hold every request up for the whole timeout.
        done = self.view.wait_for(position, timeout, _stuck(self.supervisor))
        exchange = (self.exchange.view if self.exchange is not None
                    else self.exchange_polling_view)
        if exchange is not None:
            done = exchange.wait_for(position, timeout, _stuck(self.exchange)) and done
        return done

    def wait_for_webhooks(self, position: int | None) -> bool:
        """Read-your-writes for webhook subscriptions: the outbox follows only its own
        event types, so it is waited on only for those (never in ``wait_for_view``)."""
        view = self.webhooks.view if self.webhooks is not None else self.webhooks_polling_view
        if view is None:
            return True
        return view.wait_for(position, self.settings.read_your_writes_timeout,
                             _stuck(self.webhooks))

    @property
    def exchange_reads(self) -> ExchangeQueries:
        """Inbox, outbox, registers, dashboard and search (asyncpg)."""
        if self.exchange_queries is None:
            raise RuntimeError("the container has no exchange queries")
        return self.exchange_queries


def _stuck(supervisor: ProjectionSupervisor | None) -> Callable[[], bool] | None:
    """For read-your-writes: whether the supervised projection is stuck on an event."""
    if supervisor is None:
        return None
    return lambda: supervisor.failure is not None


@contextlib.asynccontextmanager
async def running_container(settings: Settings) -> Any:
    """Build the container for the app's lifetime and tear it down afterwards."""
    write = build_write_side(settings)
    supervisor = None
    ledger = None
    dispatch = None
    webhooks = None
    exchange = None
    exchange_polling = None
    webhooks_polling = None
    webhook_workers = None
    checkpoints = None
    pool = None
    try:
        polling_view = None
        workers_env = worker_env(write.es_env)
        if settings.run_projections:
            supervisor = ProjectionSupervisor(workers_env)
            supervisor.start()
            ledger = ProjectionSupervisor(workers_env, start=start_ledger, name="ledger")
            ledger.start()
            dispatch = ProjectionSupervisor(
                workers_env, start=partial(start_dispatcher, dispatcher=write.dispatcher()),
                name="dispatch")
            dispatch.start()
            webhooks = ProjectionSupervisor(
                workers_env, start=start_webhook_outbox, name="webhooks",
                fallback_view=partial(tracking_view, WebhookOutbox.name))
            webhooks.start()
            exchange = ProjectionSupervisor(workers_env, start=start_exchange_views,
                                            name="exchange",
                                            fallback_view=partial(tracking_view,
                                                                  ExchangeViews.name))
            exchange.start()
            # Only the process that runs the projections writes checkpoints, signed with
            # the configured system key (the development one outside production).
            note_keys = system_note_keys(settings)
            if note_keys is not None:
                checkpoints = CheckpointScheduler(
                    write.db.app.conninfo(), *note_keys,
                    every_events=settings.checkpoint_every_events,
                    every_seconds=settings.checkpoint_every_seconds)
                checkpoints.start()
        else:
            polling_view = view_recorder(workers_env)
            exchange_polling = tracking_view(ExchangeViews.name, workers_env)
            webhooks_polling = tracking_view(WebhookOutbox.name, workers_env)
        # Deadline scans and HTTP deliveries run in every API process: rows are claimed
        # with SKIP LOCKED, so several processes never send the same delivery twice.
        webhook_workers = start_webhooks(write.db.app.conninfo(),
                                         targets=webhook_targets(settings))
        pool = await asyncpg.create_pool(
            **write.db.app.asyncpg_kwargs(), min_size=1, max_size=settings.db_pool_size,
            command_timeout=30, timeout=5,
        )
        yield Container(write=write, pool=pool, queries=ReadModelQueries(pool),
                        supervisor=supervisor, polling_view=polling_view, ledger=ledger,
                        dispatch=dispatch, webhooks=webhooks, exchange=exchange,
                        exchange_polling_view=exchange_polling,
                        webhooks_polling_view=webhooks_polling,
                        exchange_queries=ExchangeQueries(pool))
    finally:
        if pool is not None:
            await pool.close()
        if checkpoints is not None:
            checkpoints.stop()
        if webhook_workers is not None:
            webhook_workers.stop()
        for running in (supervisor, ledger, dispatch, webhooks, exchange):
            if running is not None:
                running.stop()
        write.close()


@contextlib.contextmanager
def projection_process(
    settings: Settings,
) -> Iterator[ProjectionRunner[DocMgmt, ReadModelRecorder]]:
    """Run the projection on its own (``docmgmt project``)."""
    write = build_write_side(settings)
    try:
        env = worker_env(write.es_env)
        with start_projections(env) as runner, start_ledger(env), \
                start_dispatcher(env, write.dispatcher()), start_webhook_outbox(env), \
                start_exchange_views(env):
            yield runner
    finally:
        write.close()
