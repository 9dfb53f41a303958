"""Importers: canonical CSV / JSON Lines folders and CRM exports (through YAML column mappings) into the store."""

from readiness.importers.mapping import Mapping, load_mapping
from readiness.importers.pipeline import ImportFolderError, Progress, import_dataset
from readiness.importers.report import FileCounts, ImportReport, QuarantineEntry

__all__ = [
    "FileCounts",
    "ImportFolderError",
    "ImportReport",
    "Mapping",
    "Progress",
    "QuarantineEntry",
    "import_dataset",
    "load_mapping",
]
