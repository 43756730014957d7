"""Every route is a ThreadedRoute: a plain endpoint goes to the thread pool once per request
(FastAPI alone sends it there, then its answer again to be checked)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.main import create_app
from api.routing import ThreadedRoute
from docmgmt.settings import Settings

WHO = contextvars.ContextVar("who", default="nobody")


class Answer(BaseModel):
    thread: str
    who: str


def _app(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.get("/plain")
    def plain() -> Answer:
        """A blocking step."""
        return Answer(thread=threading.current_thread().name, who=WHO.get())

    @router.get("/coroutine")
    async def coroutine() -> Answer:
        return Answer(thread=threading.current_thread().name, who=WHO.get())

    app = FastAPI()

    @app.middleware("http")
    async def name_the_caller(request: Any, call_next: Any) -> Any:
        WHO.set("official_a")
        return await call_next(request)

    app.include_router(router)
    return app


def _hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return calls


@pytest.mark.parametrize(("route_class", "hops"), [(APIRoute, 2), (ThreadedRoute, 1)])
def test_a_plain_endpoint_goes_to_the_pool_once(
    monkeypatch: pytest.MonkeyPatch, route_class: type[APIRoute], hops: int,
) -> None:
    calls = _hops(monkeypatch)

    async def run() -> None:
        transport = httpx.ASGITransport(app=_app(route_class))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/plain")
            assert answer.status_code == 200
            body = answer.json()
            # In a worker thread, with the request's context variables, as FastAPI does it.
            assert body["thread"] != threading.main_thread().name
            assert body["who"] == "official_a"
            calls.clear()
            assert (await client.get("/plain")).status_code == 200
            assert len(calls) == hops  # FastAPI alone: the endpoint, then its answer's check
            calls.clear()
            assert (await client.get("/coroutine")).status_code == 200
            assert calls == []

    asyncio.run(run())


def test_the_wrapper_keeps_what_fastapi_reads() -> None:
    app = _app(ThreadedRoute)
    operation = app.openapi()["paths"]["/plain"]["get"]
    assert operation["operationId"] == "plain_plain_get"
    assert operation["description"] == "A blocking step."
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Answer"}


def test_every_route_of_the_app_is_threaded() -> None:
    app = create_app(Settings(jwt_secret="x" * 40))
    routes: list[APIRoute] = []

    def walk(items: Any) -> None:
        for route in items:
            nested = getattr(route, "routes", None) or getattr(
                getattr(route, "original_router", None), "routes", None)
            if isinstance(route, APIRoute):
                routes.append(route)
            elif nested is not None:
                walk(nested)

    walk(app.router.routes)
    assert len(routes) > 150
    assert [r.path for r in routes if not isinstance(r, ThreadedRoute)] == []
