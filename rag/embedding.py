"""Embedders: one narrow interface, the real sentence-transformers model, and test fakes.

All vectors leave this module L2-normalized float32 (``normalize`` is the one
place that does it), so the store can use inner product as cosine similarity.
The real model loads on first use, not at construction or import.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int: ...
    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...
    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def model_id_for(name_or_path: str) -> str:
    """A short id for the manifest that survives moving the venv: the model folder's name."""
    p = Path(name_or_path)
    if p.name == "model" and p.parent.name:
        return p.parent.name
    return p.name or name_or_path


class SentenceTransformerEmbedder:
    """A sentence-transformers model (a hub name or a local folder), loaded lazily on CPU."""

    def __init__(self, name_or_path: str, batch_size: int = 32):
        self.name_or_path = name_or_path
        self.model_id = model_id_for(name_or_path)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._model is None:
                from rag.text import torch_import_lock

                try:
                    with torch_import_lock():
                        from sentence_transformers import SentenceTransformer
                        from transformers.utils import logging as transformers_logging
                    # transformers draws a "Loading weights" bar for a load that takes a tenth of a second; it
                    # would print even under `rag index --quiet`, and between the build's own bars
                    transformers_logging.disable_progress_bar()
                    self._model = SentenceTransformer(self.name_or_path, device="cpu", local_files_only=True)
                except Exception as e:  # noqa: BLE001 - rewrap with what the user can do about it
                    raise RuntimeError(
                        f"cannot load embedding model {self.name_or_path!r} ({e}); set RAG_EMBED_MODEL to a "
                        "local sentence-transformers folder (nothing is downloaded at run time)"
                    ) from e
        return self._model

    @property
    def dim(self) -> int:
        model = self.load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.load().encode(list(texts), batch_size=self.batch_size, show_progress_bar=progress,
                                  convert_to_numpy=True)
        return normalize(vecs)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self.load().tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic fake: each lower-cased word adds a ±1 at a SHA-256-chosen dimension.

    Identical texts get identical vectors (cosine 1) and texts sharing words are
    similar, so retrieval logic can be tested in milliseconds without a model.
    """

    def __init__(self, dim: int = 256, model_id: str = "hash-embedder"):
        self._dim = dim
        self.model_id = model_id
        self.calls: list[int] = []  # number of texts per encode_documents call, for tests

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = hashlib.sha256(word.encode()).digest()
            v[int.from_bytes(h[:4], "little") % self._dim] += 1.0 if h[4] & 1 else -1.0
        if not v.any():
            v[0] = 1.0
        return v

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return normalize(np.stack([self._vector(t) for t in texts]))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalize(np.stack([self._vector(t) for t in texts]))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]


def make_embedder(settings) -> Embedder:
    if settings.embed_backend == "torch":
        return SentenceTransformerEmbedder(settings.embed_model, batch_size=settings.embed_batch_size)
    from rag.embedding_onnx import OnnxEmbedder

    return OnnxEmbedder(settings.embed_model, batch_size=settings.embed_batch_size,
                        quantize=settings.embed_backend == "onnx-int8")
