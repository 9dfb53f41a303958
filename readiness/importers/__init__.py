"""Importers: canonical CSV / JSON Lines folders and CRM exports (through YAML column mappings) into the store."""

from readiness.importers.mapping import Mapping, load_mapping
from readiness.importers.pipeline import ImportFolderError, Progress, import_dataset, import_into_sqlite_file
from readiness.importers.report import FileCounts, ImportReport, QuarantineEntry

__all__ = [
    "FileCounts",
    "ImportFolderError",
    "ImportReport",
    "Mapping",
    "Progress",
    "QuarantineEntry",
    "import_dataset",
    "import_into_sqlite_file",
    "load_mapping",
]
