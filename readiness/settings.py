"""One settings object for the whole product, read from ``PARTNERPILOT_*`` environment variables."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Written under PARTNERPILOT_HOME when the store holds demo data (the sample ecosystem imported by `partnerpilot
# up`, or a synthetic program from `partnerpilot seed`): such data stops on a fixed day, and computing "as of the
# system date" would make every partner look dormant.
DEMO_MARKER = "sample-dataset.json"


class DemoMarker(BaseModel):
    dataset: str
    as_of: date  # the newest date in the demo data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERPILOT_", extra="ignore")

    home: Path = Field(default=Path("./var"), description="Data folder: SQLite store, Chroma index, checkpoints.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home.")
    as_of: date | None = Field(default=None, description="Fixed 'today' for every time-dependent computation.")

    # Model: "offline" (deterministic planner) or "openai" (any OpenAI-compatible endpoint).
    provider: str | None = Field(
        default=None, description="offline | openai; default openai when a key or base URL is set."
    )
    model: str = Field(default="gpt-4o-mini")
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "PARTNERPILOT_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "PARTNERPILOT_OPENAI_BASE_URL")
    )
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 2
    llm_max_tokens: int = Field(default=700, description="Completion cap per LLM call: stops runaway generations.")
    llm_context_tokens: int = Field(default=8192, description="The model's context window; a turn that would not fit "
                                    "is answered from the tool results gathered so far.")
    temperature: float = 0.0
    turn_budget_s: float = Field(default=20.0, gt=0, description="Time one turn's LLM calls may take in all: each "
                                 "call gets what is left as its timeout; after it the offline planner answers.")

    # Knowledge index.
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL; default an embedded PersistentClient under home."
    )
    knowledge_dir: Path | None = None

    # Scoring configuration (weights, tiers, windows); default the packaged YAML.
    scoring_config: Path | None = None
    scoring_workers: int | None = Field(
        default=None, description="Processes reading a big SQLite store in parallel on a full rescore; default one "
        "per CPU, 1 turns it off.")

    # The offline planner's fitted intent model (cached by a hash of its training data); default HOME/models.
    models_dir: Path | None = None

    # Guardrails and memory.
    max_input_chars: int = 4000
    history_token_budget: int = 3000

    # Conversation checkpoints: retention (agent.retention).
    checkpoint_keep: int = Field(default=3, ge=1, description="Checkpoints kept per thread, the newest; older ones "
                                 "are deleted each time a turn writes one. The newest holds the whole conversation.")
    thread_retention_days: int = Field(default=90, ge=0, description="Threads idle longer than this many days are "
                                       "deleted (swept at most hourly after a turn, and by `partnerpilot threads "
                                       "prune`); 0 keeps every thread.")

    # HTTP server: identity. Keys are managed in the store (`partnerpilot keys`); these are the other sources.
    host: str = Field(default="127.0.0.1", description="Interface the server listens on (`partnerpilot up --host`); "
                      "demo login is only on by default on loopback.")
    api_tokens: str | None = Field(default=None, description="Development bearer tokens: tok1=pam:pam-02,tok2=...")
    secret_key: str | None = Field(default=None, description="HMAC key for demo tokens; random per process if unset.")
    demo_login: bool | None = Field(default=None, description="Allow POST /login. Default: on only on loopback with no "
                                    "keys configured; never alongside API keys or on PostgreSQL.")
    demo_token_ttl_s: int = Field(default=1800, gt=0, le=86400, description="Demo token lifetime (revocable).")
    oidc_jwks: str | None = Field(default=None, description="OIDC: JWKS file path or https URL verifying JWT bearers.")
    oidc_issuer: str | None = Field(default=None, description="OIDC: required `iss` claim.")
    oidc_audience: str | None = Field(default=None, description="OIDC: required `aud` claim.")
    oidc_principal_claim: str = Field(default="partnerpilot_principal",
                                      description="OIDC: claim holding the principal, e.g. pam:pam-02.")
    oidc_algorithms: str = Field(default="RS256,ES256", description="OIDC: accepted signing algorithms.")

    # HTTP server: limits and shared state.
    redis_url: str | None = Field(default=None, description="Redis for rate limits and revocations shared by "
                                  "workers, e.g. redis://127.0.0.1:6379/0; unset: per process.")
    rate_limit_per_minute: int = Field(default=600, ge=0, description="Requests per key per minute; 0 turns it off.")
    max_body_bytes: int = Field(default=256 * 1024, gt=0, description="Request body limit (every route but uploads).")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Body limit of POST /v1/imports.")
    turn_workers: int = Field(default=8, ge=1, description="Conversation turns run at once per worker process, on "
                              "their own thread pool (health checks and the REST API never wait for it).")
    turn_queue: int = Field(default=32, ge=0, description="Turns waiting for a free turn worker; beyond it a turn "
                            "gets 503 with Retry-After.")
    turn_lock_ttl_s: int = Field(default=300, gt=0, description="Longest a thread stays locked by a turn whose worker "
                                 "died (Redis lock expiry; stale idempotency reservations are taken over after it).")
    idempotency_wait_s: float = Field(default=30.0, ge=0, description="How long a retried turn waits for the same "
                                      "Idempotency-Key's first attempt to finish before 409.")
    read_cache: bool = Field(default=True, description="Reads keep what they computed per worker under the store's "
                             "data version: the agent's read tools' results (agent.tools.read_cache) and small "
                             "scoring frames (readiness.scoring.frame_cache); false: every read computes afresh.")
    log_format: str = Field(default="json", description="json | console: server and CLI log lines on stderr.")
    import_lock_wait_s: float = Field(default=30.0, gt=0, le=3600, description="How long an import waits for "
                                      "another one to finish before giving up with 'another import is running'.")
    db_unavailable_retry_after_s: int = Field(default=5, ge=1, le=300, description="Retry-After of the 503 a "
                                              "request gets while the database cannot be reached.")
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=120, description="How long a request waits for a "
                                     "database connection (store and checkpointer pools) before failing with 503.")

    # Nudge delivery (`partnerpilot nudges send`): nothing is sent until a channel is configured.
    smtp_host: str | None = Field(default=None, description="SMTP server for nudge e-mails; unset: no e-mail.")
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none (a local relay).")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = Field(default=None, description="Sender address of nudge e-mails (required with a host).")
    nudge_send_timeout_s: float = Field(default=10.0, gt=0, description="Per SMTP or webhook call.")
    nudge_webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook for nudges.")
    nudge_window_days: int = Field(default=7, ge=1, description="A due nudge reaches each recipient at most once "
                                   "per this many days (a reminder each window while it stays due).")
    public_url: str | None = Field(default=None, description="The server's public base URL, for unsubscribe links "
                                   "in e-mails (with PARTNERPILOT_SECRET_KEY to sign them).")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'partnerpilot.db').resolve()}"

    @property
    def resolved_provider(self) -> str:
        if self.provider:
            return self.provider
        return "openai" if (self.openai_api_key or self.openai_base_url) else "offline"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.db"

    def today(self) -> date:
        """The one "today" rule of every entry point (server, chat, CLI, `up`): PARTNERPILOT_AS_OF, else the newest
        date in the data of a demo store, else the system date."""
        if self.as_of is not None:
            return self.as_of
        demo = self.demo_marker()
        return demo.as_of if demo is not None else date.today()

    def today_source(self) -> str:
        """Where `today()` comes from, for the line an entry point prints."""
        if self.as_of is not None:
            return "PARTNERPILOT_AS_OF"
        demo = self.demo_marker()
        if demo is not None:
            return f"the newest date in the demo data ({demo.dataset}); set PARTNERPILOT_AS_OF to override"
        return "the system date"

    def demo_marker(self) -> DemoMarker | None:
        path = self.home / DEMO_MARKER
        try:
            return DemoMarker.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError):
            return None

    def mark_demo_store(self, dataset: str, as_of: date) -> DemoMarker:
        """Record that the store holds demo data whose newest date is `as_of` (rewritten after each import)."""
        marker = DemoMarker(dataset=dataset, as_of=as_of)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / DEMO_MARKER).write_text(marker.model_dump_json(), encoding="utf-8")
        return marker


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
