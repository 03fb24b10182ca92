"""The on-disk index: FAISS vectors + BM25 + chunk metadata + a manifest, written atomically.

Layout of an index folder::

    index/CURRENT                      name of the live build (replaced atomically)
    index/builds/<build_id>/manifest.json
                            chunks.jsonl      chunk records
                            embeddings.npy    one normalized float32 vector per sentence (the incremental cache)
                            vectors.faiss     inner-product FAISS index of those vectors
                            bm25/             bm25s index of the chunks (JSON + .npy, no pickle)

The dense index holds sentences, not chunks: a chunk ranks by its best sentence. A 128-token chunk mixes
several facts, and its one vector matches none of them well ("Kremlin spokesman Dmitry Peskov said…" sits
in a chunk about territory and Donbas); a sentence's vector matches the question that asks for it. Row ``i``
of the vectors is the ``i``-th distinct sentence met reading the chunks in order (``sentence_rows``), so the
mapping is not stored twice. The same vectors score the retrieved sentences as evidence (``rag.answer``),
which then need no embedding at question time.

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
from rag.text import ACRONYM, other_forms_of_names

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 1: one vector per chunk; 2: one per sentence
TIE_BREAK = 0.05   # weight of a chunk's mean sentence cosine beside its best one (see dense_search)


class IndexError_(Exception):
    """Base of the index errors a user can hit; the message says what to do."""


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class IndexFormatError(IndexMismatchError):
    """Written by another version of newsrag; ``rag index`` builds it again, no ``--rebuild`` needed."""


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


def sentence_rows(chunks: list[Chunk]) -> tuple[list[str], list[list[int]], dict[tuple[str, int], int]]:
    """The distinct sentences of ``chunks`` in reading order (overlapping chunks share theirs): their texts,
    the chunk positions holding each, and each (doc id, start offset)'s row."""
    texts: list[str] = []
    holders: list[list[int]] = []
    row_of: dict[tuple[str, int], int] = {}
    for pos, c in enumerate(chunks):
        for a, b in c.sentences:
            row = row_of.get((c.doc_id, a))
            if row is None:
                row = row_of[(c.doc_id, a)] = len(texts)
                texts.append(c.text[a - c.start:b - c.start])
                holders.append([])
            holders[row].append(pos)
    return texts, holders, row_of


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
    """A loaded index. Positions (ints) index ``chunks``; rows of ``vectors`` and FAISS ids are sentences
    (``sentence_rows``)."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: object
    bm25: object | None
    _by_id: dict = field(default_factory=dict, repr=False)
    _holders: list = field(default_factory=list, repr=False)   # sentence row → chunk positions
    _row_of: dict = field(default_factory=dict, repr=False)    # (doc id, start) → sentence row
    _chunk_rows: list = field(default_factory=list, repr=False)  # chunk position → its sentence rows
    _doc_chunks: dict = field(default_factory=dict, repr=False)  # doc id → its chunk positions, in order

    def __post_init__(self):
        self._by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        _, self._holders, self._row_of = sentence_rows(self.chunks)
        self._chunk_rows = [np.array([self._row_of[(c.doc_id, a)] for a, _ in c.sentences], dtype=np.int64)
                            for c in self.chunks]
        for i, c in enumerate(self.chunks):
            self._doc_chunks.setdefault(c.doc_id, []).append(i)

    def __len__(self) -> int:
        return len(self.chunks)

    def document_text(self, doc_id: str) -> str:
        """An article's headline and text as the index holds it (its chunks, joined; overlaps repeat)."""
        chunks = [self.chunks[i] for i in self._doc_chunks.get(doc_id, ())]
        return "\n".join([chunks[0].title] + [c.text for c in chunks]) if chunks else ""

    def position(self, chunk_id: str) -> int | None:
        return self._by_id.get(chunk_id)

    @property
    def n_sentences(self) -> int:
        return len(self._holders)

    def sentence_vector(self, doc_id: str, start: int) -> np.ndarray | None:
        """The stored vector of the sentence starting at ``start`` in ``doc_id``, if the index has it."""
        row = self._row_of.get((doc_id, start))
        return None if row is None else self.vectors[row]

    def dense_search(self, query_vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The ``n`` chunks holding the sentences closest to the query, each scored by its best sentence.

        Overlapping chunks share sentences; of two chunks holding the same best sentence, the one whose other
        sentences are closer to the query ranks first (``TIE_BREAK`` × their mean cosine): it cites the
        sentence with the context that belongs to it."""
        if not self.chunks:
            return []
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        # exact search by one matrix product (twice as fast as FAISS's flat scan for a single query, and the
        # cosines are then at hand for the tie-break); a graph index (HNSW) is searched through FAISS
        cos = self.vectors @ q if self.manifest.get("faiss_factory", "Flat") == "Flat" else None
        k = min(self.n_sentences, 4 * n)  # a chunk holds several sentences: read enough to fill n chunks
        best: dict[int, float] = {}
        while True:
            if cos is not None:
                ids = np.argpartition(-cos, k - 1)[:k] if k < len(cos) else np.arange(len(cos))
                ids = ids[np.argsort(-cos[ids], kind="stable")]
                scores = cos[ids]
            else:
                scores, ids = self.faiss_index.search(q[None], k)
                scores, ids = scores[0], ids[0]
            for i, sc in zip(ids, scores):
                if i < 0:
                    continue
                for pos in self._holders[int(i)]:
                    best.setdefault(pos, float(sc))
            if len(best) >= min(n, len(self.chunks)) or k >= self.n_sentences:
                break
            best.clear()
            k = min(self.n_sentences, 4 * k)
        top = sorted(best.items(), key=lambda kv: -kv[1])[:2 * n]
        out = []
        for pos, sc in top:
            rows = self._chunk_rows[pos]
            mean = float(cos[rows].mean()) if cos is not None else float((self.vectors[rows] @ q).mean())
            out.append((pos, sc, sc + TIE_BREAK * mean))
        out.sort(key=lambda t: -t[2])
        return [(pos, sc) for pos, sc, _ in out[:n]]

    def bm25_search(self, query: str, n: int) -> list[tuple[int, float]]:
        if self.bm25 is None or not self.chunks:
            return []
        vocab = self.bm25.vocab_dict
        tokens = [t for t in bm25_tokenize([query])[0] if t in vocab]
        # a country is also searched as its people and back, as evidence is scored (rag.text.other_forms_of_names):
        # "Estonia's foreign minister" is "Estonian Foreign Minister Margus Tsahkna"
        # (one word each: "united" of "United Kingdom" would find Manchester United)
        forms = sorted(f for fs in other_forms_of_names(query).values() for f in fs if f != ACRONYM and " " not in f)
        if forms:
            tokens += [t for t in dict.fromkeys(bm25_tokenize([" ".join(forms)])[0]) if t in vocab and t not in tokens]
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
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise IndexCorruptError(f"index {index_dir}/: its CURRENT file is unreadable ({e}): "
                                    f"run `rag index --index {index_dir} --rebuild`") from e
        if not name or "/" in name or name in (".", ".."):
            raise IndexCorruptError(f"index {index_dir}/: its CURRENT file names no build ({name!r}): "
                                    f"run `rag index --index {index_dir} --rebuild`")
        build = index_dir / "builds" / name
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
        check_compatible(manifest, expect or {}, index_dir)
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
        store = cls(build, manifest, chunks, vectors, faiss_index, bm25)
        if not (len(chunks) == manifest.get("n_chunks") and
                store.n_sentences == len(vectors) == faiss_index.ntotal == manifest.get("n_sentences")
                and vectors.ndim == 2 and vectors.shape[1] == faiss_index.d == manifest.get("dim")):
            raise IndexCorruptError(
                f"index in {build} is inconsistent ({len(chunks)} chunks with {store.n_sentences} sentences, "
                f"{len(vectors)} vectors of shape {vectors.shape}, {faiss_index.ntotal} of dimension "
                f"{faiss_index.d} in FAISS): {fix}"
            )
        return store


def expected_manifest(settings, embed_model_id: str) -> dict:
    from rag.chunking import CHUNKER

    return {"embed_model": embed_model_id, "chunker": CHUNKER, "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap}


def check_compatible(manifest: dict, expect: dict, index_dir: Path) -> None:
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexFormatError(
            f"index in {index_dir}/ has format {manifest.get('format')}, this newsrag reads {FORMAT_VERSION}: "
            f"run `rag index --index {index_dir}` to build it again"
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
                    "n_sentences": len(vectors),
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
