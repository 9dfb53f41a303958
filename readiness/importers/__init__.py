"""Importers: canonical CSV / JSON Lines folders and CRM exports (through YAML column mappings) into the store."""

from readiness.importers.lock import ImportBusy
from readiness.importers.mapping import Mapping, MappingMismatch, load_mapping
from readiness.importers.pipeline import ImportFolderError, Progress, import_dataset, import_into_sqlite_file
from readiness.importers.report import FileCounts, ImportReport, QuarantineEntry
from readiness.importers.upload import Upload, UploadError, import_uploads

__all__ = [
    "FileCounts",
    "ImportBusy",
    "ImportFolderError",
    "ImportReport",
    "Mapping",
    "MappingMismatch",
    "Progress",
    "QuarantineEntry",
    "Upload",
    "UploadError",
    "import_dataset",
    "import_into_sqlite_file",
    "import_uploads",
    "load_mapping",
]
