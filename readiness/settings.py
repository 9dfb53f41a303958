"""One settings object for the whole product, read from ``PARTNERPILOT_*`` environment variables."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        return self.as_of or date.today()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
