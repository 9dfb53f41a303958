"""Runtime context of one conversation: who is asking (from authentication), as of when, on which model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from readiness.scope import Principal
from readiness.settings import get_settings


@dataclass(frozen=True)
class Context:
    """Injected into every node and tool by LangGraph; never produced by the model."""

    role: str = "partner"  # partner | pam | leader
    principal_id: str = ""
    as_of: date = field(default_factory=lambda: get_settings().today())
    provider: str = field(default_factory=lambda: get_settings().resolved_provider)
    model: str = field(default_factory=lambda: get_settings().model)
    # Set by the eval runner in replay mode: the endpoint a cassette was recorded against, and no retries so a
    # missing interaction fails at once. None: from settings.
    base_url: str | None = None
    max_retries: int | None = None

    def __post_init__(self) -> None:
        # Contexts built from JSON (langgraph dev, HTTP clients) carry the date as a string.
        if isinstance(self.as_of, str):
            object.__setattr__(self, "as_of", date.fromisoformat(self.as_of))

    @property
    def principal(self) -> Principal:
        return Principal(role=self.role, id=self.principal_id)  # type: ignore[arg-type]

    @classmethod
    def parse_as(cls, spec: str, **kwargs: object) -> Context:
        """`partner:p-014` or `pam:pam-02` (the CLI's --as)."""
        role, _, pid = spec.partition(":")
        if role not in {"partner", "pam", "leader"} or not pid:
            raise ValueError(f"--as must look like partner:ID or pam:ID, got {spec!r}")
        return cls(role=role, principal_id=pid, **kwargs)  # type: ignore[arg-type]
