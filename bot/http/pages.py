"""The web page: one HTML file, its script and its style, shipped in ``static/`` (no build
step, no CDN: it works offline). ``/``, ``/sources`` and ``/documents/<id>`` all serve the
page; its script shows the view the path names (``/?q=问题`` asks on load)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
# The page runs only its own script and style, loads nothing from elsewhere, and no other
# site may frame it: a document's text can never become code here (it is set as text, too).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/")
async def home() -> FileResponse:
    return _page()


@router.get("/sources")
async def sources_page() -> FileResponse:
    return _page()


@router.get("/documents/{doc_id:path}")
async def document_page(doc_id: str) -> FileResponse:
    return _page()
