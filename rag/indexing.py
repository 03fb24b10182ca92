"""Build or update an index from a corpus folder, incrementally.

An article whose content hash is unchanged keeps its chunks and vectors; a
changed article is re-chunked and only sentences whose text is new are embedded;
a deleted article's chunks disappear. Articles stored in ``<index>/uploads/``
(added from the chat) are indexed with every build, as ``uploads/<name>``. The result is written as a new build
(see ``rag.store``), so readers of the old one are never disturbed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.chunking import Chunk, chunk_article
from rag.documents import load_corpus
from rag.store import (
    FORMAT_VERSION, IndexError_, IndexFormatError, IndexMismatchError, IndexStore, check_compatible, choose_factory,
    expected_manifest, sentence_rows, write_build,
)

log = logging.getLogger(__name__)

UPLOADS = "uploads"  # <index>/uploads/: articles added from the chat, indexed with every build


@dataclass
class BuildResult:
    index_dir: Path
    n_docs: int
    n_chunks: int
    embedded: int         # distinct sentence texts embedded by this build
    reused: int           # sentences whose vectors came from the previous build
    seconds: float
    embed_seconds: float
    changed_docs: list[str] = field(default_factory=list)
    removed_docs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    faiss_factory: str = "Flat"
    unchanged: bool = False
    n_sentences: int = 0

    @property
    def chunks_per_s(self) -> float:
        return self.n_chunks / self.seconds if self.seconds else 0.0


class IndexLocked(IndexError_):
    pass


def _lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(index_dir, os.W_OK):
        raise PermissionError(f"index folder {index_dir}/ is not writable: choose another with --index or RAG_INDEX")
    fh = open(index_dir / ".lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise IndexLocked(f"another `rag index` is writing {index_dir}/ right now; wait for it to finish") from None
    return fh


def build_index(settings, embedder, corpus: Path | None = None, index_dir: Path | None = None,
                rebuild: bool = False, progress: bool = True) -> BuildResult:
    """Index every article under ``corpus`` into ``index_dir``; re-embed only what changed."""
    t0 = time.perf_counter()
    corpus = Path(corpus or settings.corpus)
    index_dir = Path(index_dir or settings.index)
    report = load_corpus(corpus)
    uploads = index_dir / UPLOADS
    if uploads.is_dir():  # articles added from the chat belong to the index and survive every rebuild
        extra = load_corpus(uploads)
        report.documents += [replace(d, doc_id=f"{UPLOADS}/{d.doc_id}") for d in extra.documents]
        report.warnings += [f"{UPLOADS}/{w}" for w in extra.warnings]
    if not report.documents:
        raise ValueError(f"no articles found in {corpus}/ (looked for .txt .md .html .json .jsonl); "
                         "the existing index, if any, is unchanged")
    lock = _lock(index_dir)
    try:
        expect = expected_manifest(settings, embedder.model_id)
        prev: IndexStore | None = None
        resplit = False  # the index's sentences were split by an older splitter
        if not rebuild:
            try:
                prev = IndexStore.load(index_dir, with_bm25=False)
                # a newer newsrag splitting sentences differently is not a setting the user chose: no --rebuild
                # needed. Every article is split again; a sentence whose text did not change keeps its vector
                old_chunker = prev.manifest.get("chunker")
                check_compatible({**prev.manifest, "chunker": expect["chunker"]}, expect, index_dir)
                if old_chunker != expect["chunker"]:
                    report.warn(f"index built by the sentence splitter {old_chunker!r}, this newsrag uses "
                                f"{expect['chunker']!r}: splitting every article again")
                    resplit = True
            except IndexFormatError:
                # written by an older newsrag (one vector per chunk): nothing in it can be reused, and it is not
                # a setting the user chose, so no --rebuild is asked for; other settings must still match.
                # An index from a newer newsrag is not downgraded behind the user's back
                manifest = json.loads((IndexStore.current_build(index_dir) / "manifest.json").read_text())
                if not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT_VERSION:
                    raise
                check_compatible({**manifest, "format": FORMAT_VERSION, "chunker": expect["chunker"]}, expect, index_dir)
                report.warn(f"index written by an older newsrag (format {manifest.get('format')}): building it again")
                prev = None
            except IndexMismatchError:
                raise
            except IndexError_ as e:
                if (index_dir / "CURRENT").exists():
                    report.warn(f"previous index unusable, building from scratch: {e}")
                prev = None

        prev_docs = prev.manifest.get("documents", {}) if prev else {}
        prev_chunks_by_doc: dict[str, list[int]] = {}
        if prev:
            for i, c in enumerate(prev.chunks):
                prev_chunks_by_doc.setdefault(c.doc_id, []).append(i)

        seen: set[str] = set()
        by_hash: dict[str, str] = {}  # content hash -> the doc id that holds it
        chunks: list[Chunk] = []
        changed, documents = [], {}
        docs = report.documents
        doc_iter = docs
        if progress:
            from tqdm import tqdm

            doc_iter = tqdm(docs, desc="chunking", unit="doc", leave=False)
        for doc in doc_iter:
            if doc.doc_id in seen:
                report.warn(f"{doc.doc_id}: duplicate doc id; second copy skipped")
                continue
            seen.add(doc.doc_id)
            if doc.content_hash in by_hash:  # a copy under another name would only fill top-k with itself
                report.warn(f"{doc.doc_id}: same text as {by_hash[doc.content_hash]}; this copy skipped")
                continue
            by_hash[doc.content_hash] = doc.doc_id
            old = prev_docs.get(doc.doc_id)
            same = bool(old) and old.get("hash") == doc.content_hash and doc.doc_id in prev_chunks_by_doc
            if same and not resplit:
                doc_chunks = [prev.chunks[i] for i in prev_chunks_by_doc[doc.doc_id]]
            else:
                if not same:
                    changed.append(doc.doc_id)
                doc_chunks = chunk_article(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
            if not doc_chunks:
                report.warn(f"{doc.doc_id}: no sentences found; skipped")
                continue
            chunks.extend(doc_chunks)
            documents[doc.doc_id] = {"hash": doc.content_hash, "title": doc.title, "date": doc.date,
                                     "n_chunks": len(doc_chunks)}
        removed = sorted(set(prev_docs) - set(documents))

        # one vector per distinct sentence; a sentence the previous build embedded keeps its vector
        texts, _, _ = sentence_rows(chunks)
        prev_row: dict[str, int] = {}
        if prev:
            for row, text in enumerate(sentence_rows(prev.chunks)[0]):
                prev_row.setdefault(text, row)
        new_row: dict[str, int] = {}
        for text in texts:
            if text not in prev_row:
                new_row.setdefault(text, len(new_row))
        factory = choose_factory(len(texts), settings.faiss_factory, settings.hnsw_threshold)
        if (prev and not resplit and not new_row and not changed and not removed
                and prev.manifest.get("faiss_factory") == factory):
            return BuildResult(index_dir, len(documents), len(chunks), 0, len(texts), time.perf_counter() - t0, 0.0,
                               warnings=report.warnings, faiss_factory=factory, unchanged=True, n_sentences=len(texts))

        t_embed = time.perf_counter()
        new_vecs = embedder.encode_documents(list(new_row), progress=progress) if new_row else None
        embed_seconds = time.perf_counter() - t_embed
        dim = new_vecs.shape[1] if new_vecs is not None else (prev.vectors.shape[1] if prev else embedder.dim)
        vectors = np.empty((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = new_vecs[new_row[text]] if text in new_row else prev.vectors[prev_row[text]]

        manifest = {
            **expect,
            "embed_model_path": getattr(embedder, "name_or_path", embedder.model_id),
            "embed_backend": type(embedder).__name__,
            "dim": int(dim), "normalized": True, "faiss_factory": factory,
            "corpus": str(corpus), "n_docs": len(documents), "documents": documents,
        }
        write_build(index_dir, manifest, chunks, vectors)
        reused = sum(text not in new_row for text in texts)  # a text said twice is embedded once
        return BuildResult(index_dir, len(documents), len(chunks), len(new_row), reused,
                           time.perf_counter() - t0, embed_seconds, changed, removed, report.warnings, factory,
                           n_sentences=len(texts))
    finally:
        lock.close()
