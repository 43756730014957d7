"""/docs served by the app itself: Swagger UI from an installed package, no inline script."""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.routing import ThreadedRoute

# fastapi-offline ships Swagger UI 5 (which reads OpenAPI 3.1); only its files are used.
_ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
ASSETS_PREFIX = "/docs/assets"

# What Swagger UI needs and nothing more: its own script, styles and the schema from this
# server; 'data:' images are its inline icons. The validator badge is switched off below.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

# A separate script rather than an inline one, so that the CSP needs no 'unsafe-inline'.
_INIT_JS = """\
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    domNode: node,
    validatorUrl: null,
    deepLinking: true,
    showExtensions: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/init.js"></script>
</body>
</html>
"""


def docs_router(app: FastAPI) -> APIRouter:
    """The /docs page and its assets, for an app built with docs_url=None."""
    router = APIRouter(include_in_schema=False, route_class=ThreadedRoute)

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""))
        page = _PAGE.format(title=html.escape(f"{app.title} - API"), assets=root + ASSETS_PREFIX,
                            openapi=root + html.escape(app.openapi_url or "/openapi.json"))
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})

    @router.get(ASSETS_PREFIX + "/init.js")
    async def swagger_init() -> Response:
        return Response(_INIT_JS, media_type="text/javascript; charset=utf-8")

    @router.get(ASSETS_PREFIX + "/{name}")
    async def swagger_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(_ASSETS_DIR / name, media_type=media_type)

    return router
