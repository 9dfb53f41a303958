"""Synthetic partner-program generator (`partnerpilot seed`): deterministic, canonical-format, backtestable."""

from readiness.seed.program import CSV_COLUMNS, SyntheticProgram, generate_program
from readiness.seed.sinks import SeedSummary, load_into_store, write_csv

__all__ = ["CSV_COLUMNS", "SeedSummary", "SyntheticProgram", "generate_program", "load_into_store", "write_csv"]
