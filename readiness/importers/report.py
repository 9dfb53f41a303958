"""What an import returns: counts per file and overall, and the rows it refused."""

from __future__ import annotations

from pydantic import BaseModel, Field

# The report lists at most this many quarantined rows; all of them are stored in `quarantined_rows`.
REPORT_QUARANTINE_LIMIT = 1000


class FileCounts(BaseModel):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: FileCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined

    @property
    def usable(self) -> int:
        """Rows that were read successfully, whether or not they changed the store."""
        return self.inserted + self.updated + self.unchanged


class QuarantineEntry(BaseModel):
    file: str
    row: int = Field(description="1-based; in a CSV file the header is row 1, in JSON Lines the line number")
    reason: str


class ImportReport(BaseModel):
    run_id: str
    files: dict[str, FileCounts] = Field(default_factory=dict)
    total: FileCounts = Field(default_factory=FileCounts)
    quarantine: list[QuarantineEntry] = Field(default_factory=list)
    quarantine_truncated: bool = False
    # Partners whose rows this import inserted or changed: what an incremental rescore re-scores. Not in dumps (an
    # initial import touches every partner).
    changed_partners: set[str] = Field(default_factory=set, exclude=True)
    changed_tables: set[str] = Field(default_factory=set, exclude=True)  # tables the import inserted or updated rows in

    @property
    def moves_baselines(self) -> bool:
        """Whether partner or opportunity rows changed: the inputs of the program baselines scoring compares
        partners against (an import of activity or attributes alone leaves them as they were)."""
        return bool(self.changed_tables & {"partners", "opportunities"})

    @property
    def usable(self) -> bool:
        """False when nothing could be read: no files, or every row refused."""
        return self.total.usable > 0
