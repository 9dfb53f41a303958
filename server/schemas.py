"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Thread ids are chosen by clients too (to resume): keep them to a safe, bounded alphabet.
THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The size limit is a setting, checked in the endpoint so the client gets a 413 naming the limit.
    message: str = Field(min_length=1, description="The user's message.")
    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN,
                                  description="Continue this thread; omitted: start a new one.")


class ToolCall(BaseModel):
    name: str
    args: dict[str, Any]
    label: str | None = Field(None, description="what the call did, in words (\"Checked your readiness score\")")


class InvokeResponse(BaseModel):
    thread_id: str
    answer: str
    refused: bool
    fallback: bool
    tool_calls: list[ToolCall]


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    name: str | None = None  # the tool's name, for tool messages
    html: str | None = Field(None, description="assistant messages: the answer rendered to sanitised HTML")


class HistoryResponse(BaseModel):
    thread_id: str
    messages: list[HistoryMessage]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    as_: str = Field(alias="as", pattern=r"^(partner|pam|leader):[A-Za-z0-9_.-]{1,64}$",
                     description="Who to sign in as, e.g. partner:p-014, pam:pam-02 or leader:program.")


class LoginResponse(BaseModel):
    token: str
    role: str
    principal_id: str
    expires_at: datetime


class PrincipalOption(BaseModel):
    as_: str = Field(serialization_alias="as")
    role: str
    label: str


class PrincipalsResponse(BaseModel):
    principals: list[PrincipalOption]


class WhoAmI(BaseModel):
    role: str
    principal_id: str
    name: str | None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: bool
    checkpointer: bool


class Check(BaseModel):
    ok: bool
    ms: float
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check] = Field(description="store, checkpointer, index, redis")


class ErrorBody(BaseModel):
    detail: str


__all__ = [
    "THREAD_ID_PATTERN",
    "Check",
    "ErrorBody",
    "Health",
    "HistoryMessage",
    "HistoryResponse",
    "InvokeRequest",
    "InvokeResponse",
    "LoginRequest",
    "LoginResponse",
    "PrincipalOption",
    "PrincipalsResponse",
    "Readiness",
    "ToolCall",
    "WhoAmI",
]
