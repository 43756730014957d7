"""Health of the system and its workers."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep
from api.routing import ThreadedRoute

router = APIRouter(route_class=ThreadedRoute)


HEALTH_DEADLINE = 2.5
"""Seconds /health waits for the database and the object store: it answers within 3 s."""


async def _probe(check: Any) -> str:
    task = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({task}, timeout=HEALTH_DEADLINE)
    if not done:
        # Not awaited: a frozen database may not even acknowledge the cancellation.
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return f"unavailable: no answer within {HEALTH_DEADLINE} s"
    exc = task.exception()
    return "ok" if exc is None else f"unavailable: {type(exc).__name__}"


@router.get("/health", tags=["system"])
async def health(c: ContainerDep) -> JSONResponse:
    """Kiểm tra hệ thống / System health: the database, the object store and every
    projection answer (503 naming the part that does not, within 3 s)."""
    database, store = await asyncio.gather(
        _probe(c.queries.ping()),
        _probe(asyncio.to_thread(c.blobs.check)),  # type: ignore[attr-defined]
    )
    checks: dict[str, Any] = {"database": database, "object_store": store}
    workers = c.workers
    states = {name: _worker_state(worker) for name, worker in workers.items()}
    healthy = all(v == "ok" for v in (*checks.values(), *states.values()))
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", **checks}
    if "read_model" in states:
        body["read_model"] = states.pop("read_model")
    if "read_model" in workers:
        body["read_model_restarts"] = workers["read_model"].restarts
    body.update(states)
    failures = [w.failure.as_json() for w in workers.values() if w.failure is not None]
    if failures:
        body["failures"] = failures
    return JSONResponse(body, status_code=200 if healthy else 503)


def _worker_state(worker: Any) -> str:
    if worker.failure is not None:
        return f"failed at event {worker.failure.position}: {worker.failure.error}"
    return "ok" if worker.running else f"restarting: {worker.last_error or 'stopped'}"
