"""The pages' static files: our own (api/web/static) and the front-end packages installed
from the npm registry (api/web/node_modules, from package-lock.json), served from here only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.responses import FileResponse, Response

from api.routing import ThreadedRoute
from api.web.render import STATIC, VENDOR, VENDOR_FILES

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2"}
# Asset URLs carry their content's digest (?v=...), so a browser may keep them for a year.
CACHE = "public, max-age=31536000, immutable"


def _file(path: Path) -> Response:
    media_type = MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        raise HTTPException(404, "no such file")
    response = FileResponse(path, media_type=media_type)
    response.headers["cache-control"] = CACHE
    return response


def assets_router() -> APIRouter:
    """Routes for /app/static/<name> and /app/vendor/<name>."""
    router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)
    own = {p.name: p for p in STATIC.iterdir() if p.is_file()}

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        """One of the pages' own files (by exact name: nothing outside the folder)."""
        if name not in own:
            raise HTTPException(404, "no such file")
        return _file(own[name])

    @router.get("/vendor/{name}")
    async def vendor(name: str) -> Response:
        """A file of a front-end package installed from the npm registry."""
        if name not in VENDOR_FILES:
            raise HTTPException(404, "no such file")
        return _file(VENDOR / VENDOR_FILES[name])

    return router
