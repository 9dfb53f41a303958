"""Which quarantined rows a re-import replaces.

A file is identified by its name and the SHA-256 of its bytes. Importing the same file again (same name, same bytes)
refuses the same rows for the same reasons, so its earlier quarantined rows are deleted in the import's transaction
and the new run's rows take their place: the table says what is wrong with each distinct file once. A file with the
same name but other bytes (a corrected export, next month's delta) is another file: the earlier rows stay, because
they describe rows that file never brought in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import Connection, delete

from readiness.models import QuarantinedRow

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def replace_earlier(conn: Connection, label: str, digest: str, run_id: str) -> int:
    """Delete the quarantined rows earlier runs stored for this very file; returns how many."""
    result = conn.execute(delete(QuarantinedRow).where(
        QuarantinedRow.file == label, QuarantinedRow.file_sha256 == digest, QuarantinedRow.import_run != run_id))
    return int(result.rowcount or 0)


__all__ = ["file_digest", "replace_earlier"]
