"""The Chroma index of playbook chunks: build, incremental re-index, client selection.

Chroma runs embedded (`PersistentClient` under `Settings.chroma_path`) unless `PARTNERPILOT_CHROMA_URL` names a
server. Re-indexing diffs by chunk id (a content hash), so only new or edited chunks are embedded; chunks whose
text is unchanged but whose playbook metadata changed (say audience partner -> pam) get their metadata rewritten,
because the audience filter reads it and a stale value would leak PAM-only guidance to partners.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel

from knowledge.catalog import GAPS, PARTNER_TYPES, PlaybookMeta, load_playbooks
from knowledge.chunking import Chunk, ChunkingConfig, chunk_markdown
from knowledge.embeddings import MODEL_ID, MiniLMEmbeddingFunction, get_embedder
from readiness.settings import Settings, get_settings

COLLECTION = "playbooks"
# Bump when chunking or the embedded text changes shape: a collection built by another version is rebuilt.
INDEX_FORMAT = "chunks-v1"


class IndexReport(BaseModel):
    added: int
    unchanged: int
    removed: int
    updated: int  # same text, new metadata (no embedding needed unless the embedded header changed)
    chunks: int
    playbooks: int
    seconds: float


def make_client(settings: Settings | None = None) -> ClientAPI:
    s = settings or get_settings()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if s.chroma_url:
        url = urlparse(s.chroma_url if "://" in s.chroma_url else f"http://{s.chroma_url}")
        ssl = url.scheme == "https"
        port = url.port or (443 if ssl else 8000)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=port, ssl=ssl, settings=chroma_settings)
    s.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(s.chroma_path), settings=chroma_settings)


def open_collection(client: ClientAPI) -> Collection:
    return client.get_or_create_collection(
        COLLECTION,
        embedding_function=MiniLMEmbeddingFunction(),  # type: ignore[arg-type]
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"model": MODEL_ID, "format": INDEX_FORMAT},
    )


def embedded_text(meta: PlaybookMeta, chunk: Chunk) -> str:
    """What the vector represents: the title and heading path give short chunks their topic."""
    header = meta.title if not chunk.heading_path else f"{meta.title} > {chunk.heading_label}"
    return f"{header}\n{chunk.text}"


def chunk_metadata(meta: PlaybookMeta, chunk: Chunk) -> dict[str, Any]:
    """Flat metadata: gaps and partner types as boolean flags, which every Chroma version can filter on."""
    data: dict[str, Any] = {
        "playbook_id": meta.id,
        "title": meta.title,
        "heading_path": chunk.heading_label,
        "anchor": chunk.anchor,
        "phase": meta.phase,
        "audience": meta.audience,
        "requires_customers": meta.requires_customers,
        "gaps": ",".join(meta.gaps),
        "partner_types": ",".join(meta.partner_types),
        "version": meta.version,
        "updated_on": meta.updated_on.isoformat(),
        "ordinal": chunk.ordinal,
        "tokens": chunk.tokens,
        "embed_hash": hashlib.sha256(embedded_text(meta, chunk).encode()).hexdigest()[:16],
    }
    data.update({f"gap_{g}": g in meta.gaps for g in GAPS})
    data.update({f"pt_{t}": t in meta.partner_types for t in PARTNER_TYPES})
    return data


def corpus_chunks(
    playbooks_dir: Path | None = None, config: ChunkingConfig | None = None
) -> list[tuple[PlaybookMeta, Chunk]]:
    out: list[tuple[PlaybookMeta, Chunk]] = []
    for meta, body in load_playbooks(playbooks_dir):
        out.extend((meta, c) for c in chunk_markdown(meta.id, body, config))
    return out


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def build_index(
    rebuild: bool = False,
    *,
    playbooks_dir: Path | None = None,
    settings: Settings | None = None,
    client: ClientAPI | None = None,
) -> IndexReport:
    """Bring the index in line with the playbook folder; `rebuild` drops and re-embeds everything."""
    started = time.perf_counter()
    s = settings or get_settings()
    client = client or make_client(s)
    pairs = corpus_chunks(playbooks_dir or s.knowledge_dir)

    existing_names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    if COLLECTION in existing_names:
        stale = client.get_collection(COLLECTION).metadata or {}
        if rebuild or stale.get("model") != MODEL_ID or stale.get("format") != INDEX_FORMAT:
            client.delete_collection(COLLECTION)
    collection = open_collection(client)

    stored = collection.get(include=["metadatas"])
    stored_meta = dict(zip(stored["ids"], stored["metadatas"] or [], strict=True))
    wanted = {chunk.id: (meta, chunk) for meta, chunk in pairs}

    removed = [cid for cid in stored_meta if cid not in wanted]
    to_embed: list[str] = []
    meta_only: list[str] = []
    for cid, (meta, chunk) in wanted.items():
        if cid not in stored_meta:
            to_embed.append(cid)
            continue
        new = chunk_metadata(meta, chunk)
        old = stored_meta[cid] or {}
        if old.get("embed_hash") != new["embed_hash"]:
            to_embed.append(cid)
        elif json.dumps(old, sort_keys=True, default=str) != json.dumps(new, sort_keys=True, default=str):
            meta_only.append(cid)

    batch = max(1, min(client.get_max_batch_size(), 256))
    for ids in _batches(removed, batch):
        collection.delete(ids=ids)
    if to_embed:
        vectors = get_embedder().embed([embedded_text(*wanted[cid]) for cid in to_embed])
        for start in range(0, len(to_embed), batch):
            ids = to_embed[start : start + batch]
            collection.upsert(
                ids=ids,
                embeddings=vectors[start : start + batch],
                documents=[wanted[cid][1].text for cid in ids],
                metadatas=[chunk_metadata(*wanted[cid]) for cid in ids],
            )
    for ids in _batches(meta_only, batch):
        collection.update(ids=ids, metadatas=[chunk_metadata(*wanted[cid]) for cid in ids])

    added = sum(1 for cid in to_embed if cid not in stored_meta)
    return IndexReport(
        added=added,
        unchanged=len(wanted) - added - (len(to_embed) - added) - len(meta_only),
        removed=len(removed),
        updated=(len(to_embed) - added) + len(meta_only),
        chunks=len(wanted),
        playbooks=len({meta.id for meta, _ in pairs}),
        seconds=round(time.perf_counter() - started, 3),
    )


__all__ = [
    "COLLECTION",
    "IndexReport",
    "build_index",
    "chunk_metadata",
    "corpus_chunks",
    "embedded_text",
    "make_client",
    "open_collection",
]
