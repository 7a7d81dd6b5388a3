"""Errors as JSON, never a stack trace: OpenAI's shape for /api and /v1, Dify's for /retrieval.

``{"error": {"message", "type", "code"}}`` everywhere except Dify's External Knowledge API,
which answers ``{"error_code": int, "error_msg": str}`` (1001 bad Authorization header,
1002 authorization failed, 2001 unknown knowledge; other errors carry the HTTP status).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

DIFY_PREFIX = "/retrieval"

# HTTP status -> OpenAI-style error type
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


class ApiError(Exception):
    """An error with its HTTP status, a short code and one line for the caller."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        dify_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.dify_code = dify_code


def error_body(path: str, status: int, code: str, message: str, dify_code: int | None = None):
    """The JSON body of an error answered at ``path``."""
    if path.startswith(DIFY_PREFIX):
        return {"error_code": dify_code or status, "error_msg": message}
    return {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "code": code}}


def error_bytes(path: str, error: ApiError) -> bytes:
    body = error_body(path, error.status, error.code, error.message, error.dify_code)
    return json.dumps(body, ensure_ascii=False).encode()


def _response(request: Request, error: ApiError) -> JSONResponse:
    body = error_body(request.url.path, error.status, error.code, error.message, error.dify_code)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def _validation_message(exc: RequestValidationError) -> str:
    """The first problem as ``field: message`` (the body itself is not echoed)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else message + more


def install(app: FastAPI) -> None:
    """Every error becomes the JSON of :func:`error_body`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _response(request, ApiError(422, "invalid_request", _validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        code = _CODES.get(exc.status_code, "http_error")
        return _response(request, ApiError(exc.status_code, code, message, headers))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return _response(request, ApiError(500, "internal_error", "internal error; see the log"))
