"""Add an article from the browser: store it inside the index folder and index it incrementally.

Uploaded articles live in ``<index>/uploads/``; ``rag.indexing.build_index``
indexes that folder with every build (doc id ``uploads/<name>``), so only the
new article is embedded and a later ``rag index`` keeps it. Nothing is ever
written outside the index folder; the original corpus is only read.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ALLOWED_SUFFIXES = (".txt", ".md", ".html")
from rag.indexing import UPLOADS


class UploadError(ValueError):
    """An upload refused before indexing; the message says why and what to do."""


@dataclass
class UploadResult:
    doc_id: str
    n_docs: int
    n_chunks: int
    embedded: int
    seconds: float
    already: bool = False  # the same file was added before under this name: nothing changed
    taken: str | None = None  # the name asked for, when another article already had it


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no hidden names, only letters (any script), digits, '-', '_' and '.'."""
    base = os.path.basename(str(name).replace("\\", "/"))
    base = unicodedata.normalize("NFKC", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    # letters (with their combining marks: Devanagari, Thai), digits, "_" and "-"; anything else one "_"
    stem = "".join(c if unicodedata.category(c)[0] in "LMN" or c in "_-" else "\0" for c in stem)
    stem = re.sub("\0+", "_", stem).strip("._-")
    while stem and unicodedata.category(stem[0])[0] == "M":  # a mark with no letter to sit on
        stem = stem[1:].lstrip("._-")
    while len(stem.encode("utf-8")) > 150:  # file names are at most 255 bytes
        stem = stem[:-1]
    stem = stem or "article"
    suffix = re.sub(r"[^a-z0-9]+", "", suffix.lower())[:10]
    return f"{stem}.{suffix}" if suffix else stem


def free_name(folder: Path, name: str, data: bytes) -> tuple[str, bool]:
    """(the name to store an upload under, whether that file already holds exactly these bytes). An upload never
    replaces another article: when its name is taken by different text it becomes "name-2.txt", "name-3.txt"…"""
    stem, _, suffix = name.rpartition(".")
    for i in itertools.count(1):
        candidate = name if i == 1 else f"{stem}-{i}.{suffix}"
        existing = folder / candidate
        if not existing.exists():
            return candidate, False
        if existing.is_file() and existing.read_bytes() == data:
            return candidate, True
    raise AssertionError("unreachable")


def _base_corpus(pipe, settings) -> Path:
    """The folder the live index was built from (the manifest says), else the configured corpus."""
    recorded = pipe.store.manifest.get("corpus")
    for candidate in ([Path(recorded)] if recorded else []) + [Path(settings.corpus)]:
        if candidate.is_dir():
            return candidate
    raise UploadError(
        f"the articles this index was built from ({recorded or settings.corpus}) are not found, so re-indexing "
        "would drop them; start the server from the folder where `rag index` ran, or set RAG_CORPUS")


class ArticleUploader:
    """Validates an uploaded file, stores it under ``<index>/uploads/`` and re-indexes; one at a time."""

    def __init__(self, pipe, settings, index_dir: Path | None = None):
        self.pipe = pipe
        self.settings = settings
        self.index_dir = Path(index_dir or pipe.index_dir).resolve()
        self._lock = threading.Lock()

    def validate(self, path: Path, orig_name: str | None = None) -> str:
        name = safe_filename(orig_name or path.name)
        if not name.endswith(ALLOWED_SUFFIXES):
            raise UploadError(f"{orig_name or path.name}: only {', '.join(ALLOWED_SUFFIXES)} articles can be added")
        size = path.stat().st_size
        limit = self.settings.max_upload_mb * 1024 * 1024
        if size > limit:
            raise UploadError(f"{orig_name or path.name} is {size / 2**20:.1f} MB; the limit is "
                              f"{self.settings.max_upload_mb:g} MB (RAG_MAX_UPLOAD_MB)")
        if size == 0:
            raise UploadError(f"{orig_name or path.name} is empty")
        return name

    def add(self, path: str | Path, orig_name: str | None = None) -> UploadResult:
        from rag.indexing import build_index

        path = Path(path)
        name = self.validate(path, orig_name)
        with self._lock:
            base = _base_corpus(self.pipe, self.settings)
            uploads = (self.index_dir / UPLOADS).resolve()
            uploads.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            stored, already = free_name(uploads, name, data)
            dest = (uploads / stored).resolve()
            if dest.parent != uploads:  # belt and braces: safe_filename already forbids this
                raise UploadError(f"refusing to write {dest} outside {uploads}")
            if not already:
                tmp = uploads / f".{stored}.part"
                tmp.write_bytes(data)
                os.replace(tmp, dest)
            doc_id = f"{UPLOADS}/{stored}"
            try:  # for the same file again, a build with nothing to embed (it also repairs a build left unfinished)
                r = build_index(self.settings, self.pipe.embedder, base, self.index_dir, progress=False)
            except Exception:
                if not already:  # do not leave behind an article the index does not hold
                    dest.unlink(missing_ok=True)
                raise
            self.pipe.reload_if_changed()
            if doc_id not in self.pipe.store.manifest.get("documents", {}):
                if not already:  # only ever the file this upload wrote
                    dest.unlink(missing_ok=True)
                    build_index(self.settings, self.pipe.embedder, base, self.index_dir, progress=False)
                    self.pipe.reload_if_changed()
                same = [w for w in r.warnings if w.startswith(f"{doc_id}: same text as ")]
                if same:
                    raise UploadError(f"{orig_name or name} has the {same[0].split(': ', 1)[1].split(';')[0]}, "
                                      "which the index already holds; nothing was added")
                own = [w for w in r.warnings if w.startswith(doc_id)]  # not the rest of the corpus's
                raise UploadError(f"{orig_name or name} holds no readable sentences, so nothing was added"
                                  + (f" ({'; '.join(own)})" if own else ""))
            return UploadResult(doc_id, r.n_docs, r.n_chunks, r.embedded, r.seconds, already,
                                f"{UPLOADS}/{name}" if stored != name else None)
