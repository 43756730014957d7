"""The route class of every router: a plain (blocking) endpoint goes to the thread pool
once per request.

FastAPI runs a plain endpoint in the thread pool and then, because the endpoint is plain,
sends its return value back to the pool to be checked against the response model: two hops
between the event loop and a worker thread for every request of a blocking step (each
about 70 us of CPU and more of wall time under load). Here the endpoint is wrapped in a
coroutine that awaits it in the pool, so FastAPI checks the answer on the event loop. The
wrapper keeps the endpoint's name, documentation, signature and annotations (FastAPI reads
them through ``__wrapped__``), so dependencies, the schema and ``/openapi.json`` are
unchanged; the thread pool, and the context variables it copies, are FastAPI's own.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def on_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine that runs it in the thread pool, if it is a plain
    function; anything else (a coroutine, a generator) as it is."""
    if (not inspect.isfunction(endpoint) or inspect.iscoroutinefunction(endpoint)
            or inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint)):
        return endpoint

    @functools.wraps(endpoint)
    async def in_pool(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return in_pool


class ThreadedRoute(APIRoute):
    """An API route whose plain endpoint runs in the thread pool once (see the module)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, on_thread(endpoint), **kwargs)
