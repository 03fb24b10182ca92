"""The on-disk index: FAISS vectors + BM25 + chunk metadata + a manifest, written atomically.

Layout of an index folder::

    index/CURRENT                      name of the live build (replaced atomically)
    index/builds/<build_id>/manifest.json
                            chunks.jsonl      chunk records, row i = FAISS id i
                            embeddings.npy    normalized float32 vectors (the incremental cache)
                            vectors.faiss     inner-product FAISS index
                            bm25/             bm25s index (JSON + .npy, no pickle)

A build is written into a temporary folder and only becomes live when
``CURRENT`` is swapped with ``os.replace``; a crash, Ctrl-C or a full disk in
the middle leaves the previous index untouched. Nothing is unpickled: a file
a user can swap is read as JSON or as a numpy array with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.chunking import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class IndexError_(Exception):
    """Base of the index errors a user can hit; the message says what to do."""


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


def choose_factory(n_chunks: int, configured: str = "auto", hnsw_threshold: int = 200_000) -> str:
    """Exact search while it is cheap; a graph index once a flat scan would be slow."""
    if configured != "auto":
        return configured
    return "HNSW32,Flat" if n_chunks >= hnsw_threshold else "Flat"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def build_faiss(vectors: np.ndarray, factory: str):
    import faiss

    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(vectors)
    if len(vectors):
        index.add(vectors)
    return index


def build_bm25(texts: list[str]):
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25_tokenize(texts), show_progress=False)
    return retriever


@dataclass
class IndexStore:
    """A loaded index. Positions (ints) index ``chunks``, ``vectors`` and FAISS ids alike."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: object
    bm25: object | None
    _by_id: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}

    def __len__(self) -> int:
        return len(self.chunks)

    def position(self, chunk_id: str) -> int | None:
        return self._by_id.get(chunk_id)

    def dense_search(self, query_vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        q = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self.faiss_index.search(q, min(n, len(self.chunks)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def bm25_search(self, query: str, n: int) -> list[tuple[int, float]]:
        if self.bm25 is None or not self.chunks:
            return []
        vocab = self.bm25.vocab_dict
        tokens = [t for t in bm25_tokenize([query])[0] if t in vocab]
        if not tokens:
            return []
        ids, scores = self.bm25.retrieve([tokens], k=min(n, len(self.chunks)), show_progress=False, n_threads=1)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]

    # -- loading -----------------------------------------------------------------

    @staticmethod
    def current_build(index_dir: Path) -> Path:
        index_dir = Path(index_dir)
        pointer = index_dir / "CURRENT"
        if not pointer.exists():
            raise IndexMissingError(f"no index in {index_dir}/: build it with `rag index --index {index_dir}`")
        build = index_dir / "builds" / pointer.read_text().strip()
        if not build.is_dir():
            raise IndexCorruptError(
                f"index {index_dir}/ points to a missing build ({build.name}): run `rag index --index {index_dir} --rebuild`"
            )
        return build

    @classmethod
    def load(cls, index_dir: Path | str, expect: dict | None = None, with_bm25: bool = True) -> "IndexStore":
        """Load the live build; ``expect`` (see ``expected_manifest``) must match what it was built with."""
        index_dir = Path(index_dir)
        build = cls.current_build(index_dir)
        fix = f"run `rag index --index {index_dir} --rebuild`"
        try:
            manifest = json.loads((build / "manifest.json").read_text())
        except (OSError, ValueError) as e:
            raise IndexCorruptError(f"index manifest in {build} is unreadable ({e}): {fix}") from e
        if expect:
            check_compatible(manifest, expect, index_dir)
        try:
            import faiss

            with open(build / "chunks.jsonl", encoding="utf-8") as f:
                chunks = [Chunk.from_dict(json.loads(line)) for line in f if line.strip()]
            vectors = np.load(build / "embeddings.npy", allow_pickle=False)
            faiss_index = faiss.read_index(str(build / "vectors.faiss"))
            bm25 = None
            if with_bm25 and chunks:
                import bm25s

                bm25 = bm25s.BM25.load(str(build / "bm25"), mmap=False)
        except Exception as e:  # noqa: BLE001 - any damage means the same thing to the user
            raise IndexCorruptError(f"index in {build} is damaged ({type(e).__name__}: {e}): {fix}") from e
        if not (len(chunks) == len(vectors) == faiss_index.ntotal == manifest.get("n_chunks")):
            raise IndexCorruptError(
                f"index in {build} is inconsistent ({len(chunks)} chunks, {len(vectors)} vectors, "
                f"{faiss_index.ntotal} in FAISS): {fix}"
            )
        return cls(build, manifest, chunks, vectors, faiss_index, bm25)


def expected_manifest(settings, embed_model_id: str) -> dict:
    from rag.chunking import CHUNKER

    return {"embed_model": embed_model_id, "chunker": CHUNKER, "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap}


def check_compatible(manifest: dict, expect: dict, index_dir: Path) -> None:
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir}/ has format {manifest.get('format')}, this newsrag reads {FORMAT_VERSION}: "
            f"run `rag index --index {index_dir} --rebuild`"
        )
    diffs = [f"{k}: index has {manifest.get(k)!r}, settings ask for {v!r}" for k, v in expect.items()
             if manifest.get(k) != v]
    if diffs:
        raise IndexMismatchError(
            f"index in {index_dir}/ was built with different settings ({'; '.join(diffs)}): "
            f"run `rag index --index {index_dir} --rebuild` (or change the settings back)"
        )


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("newsrag", "sentence-transformers", "faiss-cpu", "bm25s", "torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _points_to(index_dir: Path, build_id: str) -> bool:
    try:
        return (index_dir / "CURRENT").read_text().strip() == build_id
    except OSError:
        return False


def write_build(index_dir: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray) -> Path:
    """Write a complete build beside the live one, then make it live in one atomic rename."""
    import faiss

    index_dir = Path(index_dir)
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    final = builds / build_id
    pointer_tmp = index_dir / f".CURRENT.{build_id}"
    try:
        manifest = {**manifest, "format": FORMAT_VERSION, "build_id": build_id, "n_chunks": len(chunks),
                    "versions": _versions(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in chunks:
                f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "embeddings.npy", vectors.astype(np.float32), allow_pickle=False)
        faiss.write_index(build_faiss(vectors, manifest["faiss_factory"]), str(tmp / "vectors.faiss"))
        if chunks:
            build_bm25([c.embed_text() for c in chunks]).save(str(tmp / "bm25"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb") as fh:
                    os.fsync(fh.fileno())
        os.rename(tmp, final)
        pointer_tmp.write_text(build_id + "\n")
        os.replace(pointer_tmp, index_dir / "CURRENT")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        # failed at the pointer swap: the complete build never went live, so it must not linger either
        if not _points_to(index_dir, build_id):
            shutil.rmtree(final, ignore_errors=True)
        pointer_tmp.unlink(missing_ok=True)
        raise
    for old in builds.iterdir():  # the live build and builds in progress elsewhere stay
        if old.name != build_id and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    return final
