"""Answer every error as ``application/problem+json`` (RFC 9457) with werk's stable keys."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from werk.errors import WerkError

PROBLEM = "application/problem+json"
log = logging.getLogger("werk.api")


def problem(status: int, key: str, detail: str, **fields: object) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, object] = {
        "type": f"https://werk.dev/problems/{key}",
        "title": key,
        "status": status,
        "key": key,
        "detail": detail,
    }
    body.update({k: v for k, v in fields.items() if v is not None})
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def werk_problem(request: Request, exc: WerkError) -> JSONResponse:
    """Answer a werk error: its status, stable key, message and where-fields."""
    if exc.status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    fields = {k: v for k, v in exc.fields.items() if k not in ("key", "detail")}
    return problem(exc.status, exc.key, exc.message, **fields)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    async def werk_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WerkError)
        return werk_problem(request, exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ())]
        field = loc[-1] if loc else None
        return problem(
            422,
            "request.invalid",
            f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid')}",
            field=field,
            location=loc[0] if loc else None,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        key = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http.error")
        return problem(exc.status_code, key, str(exc.detail))

    app.add_exception_handler(WerkError, werk_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
