"""JSON error bodies for every failure, none echoing more than a short prefix of what the client sent (an unexpected
exception becomes a 500 in server.middleware.RequestContext, with the request id).

FastAPI's own validation errors repeat each offending input in full (a 200 MB body came back as a 200 MB 422);
here they name the field, the rule and at most a short prefix. Domain errors map to HTTP statuses with their
user-safe message, cut to a bounded length.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from readiness.errors import OutOfScope, ReadinessError, UnknownPartner, ValidationFailed
from server.shared import SharedUnavailable

log = structlog.get_logger("partnerpilot.server")

ECHO_CHARS = 24  # how much of an offending value an error may quote
MESSAGE_CHARS = 300


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: body / query / path / header, then the field")
    msg: str
    type: str
    input_prefix: str | None = Field(None, description=f"the first {ECHO_CHARS} characters of a text input")


class ErrorBody(BaseModel):
    detail: str = Field(examples=["partner not found"])
    errors: list[FieldError] | None = None


def short(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prefix(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:ECHO_CHARS] + ("…" if len(value) > ECHO_CHARS else "")
    return None


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for e in exc.errors()[:10]:
        loc = [p if isinstance(p, int) else _prefix(str(p)) or "" for p in e.get("loc", ())]
        out.append(FieldError(loc=loc, msg=short(str(e.get("msg", "invalid")), 200), type=str(e.get("type", "")),
                              input_prefix=_prefix(e.get("input"))))
    return out


def error_response(status_code: int, detail: str, headers: dict[str, str] | None = None,
                   errors: list[FieldError] | None = None) -> JSONResponse:
    body = ErrorBody(detail=short(detail), errors=errors).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


def domain_status(exc: ReadinessError) -> int:
    if isinstance(exc, UnknownPartner):
        return status.HTTP_404_NOT_FOUND
    if isinstance(exc, OutOfScope):
        return status.HTTP_403_FORBIDDEN
    if isinstance(exc, ValidationFailed):
        return status.HTTP_422_UNPROCESSABLE_CONTENT
    return status.HTTP_400_BAD_REQUEST


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        first = errors[0] if errors else None
        where = ".".join(str(p) for p in first.loc) if first else "request"
        summary = f"invalid request: {where}: {first.msg}" if first else "invalid request"
        return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, summary, errors=errors)

    @app.exception_handler(ReadinessError)
    async def domain(request: Request, exc: ReadinessError) -> JSONResponse:
        return error_response(domain_status(exc), str(exc))

    @app.exception_handler(SharedUnavailable)
    async def shared_down(request: Request, exc: SharedUnavailable) -> JSONResponse:
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"})

    from server.db_unavailable import install_unavailable_handler  # it builds its bodies with error_response

    install_unavailable_handler(app)


__all__ = ["ErrorBody", "FieldError", "domain_status", "error_response", "install_error_handlers", "short"]
