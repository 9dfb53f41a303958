"""One settings object for the whole product, read from ``PARTNERPILOT_*`` environment variables."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

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
