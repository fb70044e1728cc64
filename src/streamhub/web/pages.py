"""HTML pages, each behind the role check; their scripts fetch the JSON API.

Not signed in → 303 to /login?next=<page>. Signed in with another role → 403 with the
"无权访问" page, which lists the pages the role may open.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from streamhub.web.auth import PAGES, allowed
from streamhub.web.context import context, current_session, viewed

STATIC_DIR = Path(str(resources.files("streamhub.web").joinpath("static")))
ECHARTS = Path("web/node_modules/echarts/dist/echarts.min.js")

router = APIRouter()
# Guarded pages must not come back from the browser's cache after a sign-out.
NO_STORE = {"Cache-Control": "no-store"}


def page_file(name: str, status: int = 200) -> Response:
    path = STATIC_DIR / f"{name}.html"
    if path.is_file():
        return FileResponse(
            path, status_code=status, media_type="text/html; charset=utf-8", headers=NO_STORE
        )
    # the page files ship with the package; a missing one is an incomplete installation
    return HTMLResponse(
        f"<!doctype html><meta charset='utf-8'><title>streamhub</title>"
        f"<p data-testid='{'forbidden' if name == 'forbidden' else 'missing-page'}'>"
        f"{'无权访问 (forbidden)' if name == 'forbidden' else ''} page file {html.escape(name)}"
        ".html is missing from this installation: reinstall streamhub</p>",
        status_code=status if name == "forbidden" else 503,
    )


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    session = current_session(request)
    target = "/login" if session is None else f"/{session.pages[0]}"
    return RedirectResponse(target, status_code=303)


@router.get("/login", include_in_schema=False)
def login_page(request: Request) -> Response:
    viewed(request, "login page")
    return page_file("login")


def _guarded(request: Request, page: str) -> Response:
    session = current_session(request)
    if session is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if not allowed(session.role, page):
        viewed(request, f"{page} page (refused)")
        return page_file("forbidden", status=403)
    viewed(request, f"{page} page")
    return page_file(page)


def _page_route(page: str) -> None:
    def serve(request: Request) -> Response:
        return _guarded(request, page)

    router.add_api_route(f"/{page}", serve, methods=["GET"], include_in_schema=False)


for _page in PAGES:
    _page_route(_page)


@router.get("/vendor/echarts.min.js", include_in_schema=False)
def echarts(request: Request) -> Response:
    path = context(request).settings.project_dir / ECHARTS
    if not path.is_file():
        return JSONResponse(
            {
                "detail": f"charting library missing at {path}: run scripts/bootstrap "
                "(it installs web/node_modules with `npm ci --prefix web`)"
            },
            status_code=503,
        )
    return FileResponse(path, media_type="text/javascript")
