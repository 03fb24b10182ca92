"""Add an article from the browser: store it inside the index folder and index it incrementally.

``build_index`` reads ONE corpus folder and names each article by its path
relative to that folder, and chunk ids include that name. So that adding an
article re-embeds only the new one, the server indexes a *view* folder,
``<index>/corpus/``, made of symlinks: one per top-level entry of the corpus the
index was built from (same doc ids as before) plus ``uploads -> ../uploads``
where uploaded articles live (doc id ``uploads/<name>``). Nothing is ever
written outside the index folder; the original corpus is only read.

Deliberate compromise: a later ``rag index --index DIR`` run with the plain
corpus drops the uploads from the index (they stay on disk under
``<index>/uploads/``); run ``rag index --corpus <index>/corpus`` to keep them.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ALLOWED_SUFFIXES = (".txt", ".md", ".html")
UPLOADS = "uploads"
VIEW = "corpus"


class UploadError(ValueError):
    """An upload refused before indexing; the message says why and what to do."""


@dataclass
class UploadResult:
    doc_id: str
    n_docs: int
    n_chunks: int
    embedded: int
    seconds: float
    replaced: bool


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no hidden names, only letters, digits, '-', '_' and '.'."""
    base = os.path.basename(str(name).replace("\\", "/"))
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("._-")[:80] or "article"
    suffix = suffix.lower()
    return f"{stem}.{suffix}" if suffix else stem


def _base_corpus(pipe, settings) -> Path:
    """The folder the live index was built from (the manifest says), else the configured corpus."""
    recorded = pipe.store.manifest.get("corpus")
    for candidate in ([Path(recorded)] if recorded else []) + [Path(settings.corpus)]:
        if candidate.is_dir():
            return candidate.resolve()
    raise UploadError(
        f"the articles this index was built from ({recorded or settings.corpus}) are not found, so re-indexing "
        "would drop them; start the server from the folder where `rag index` ran, or set RAG_CORPUS")


def prepare_view(pipe, settings, index_dir: Path) -> Path:
    """Create (or refresh) ``<index>/corpus/``: symlinks to the base corpus entries plus the uploads folder."""
    index_dir = index_dir.resolve()
    view = index_dir / VIEW
    uploads = index_dir / UPLOADS
    uploads.mkdir(parents=True, exist_ok=True)
    base = _base_corpus(pipe, settings)
    if base == view.resolve():  # the index was already built from the view: keep it as it is
        return view
    view.mkdir(exist_ok=True)
    wanted = {e.name: e for e in base.iterdir() if not e.name.startswith(".") and e.name != UPLOADS}
    for entry in view.iterdir():
        if entry.is_symlink() and entry.name != UPLOADS and entry.name not in wanted:
            entry.unlink()
    for name, target in wanted.items():
        link = view / name
        if not link.is_symlink():
            link.symlink_to(target.resolve())
    if not (view / UPLOADS).is_symlink():
        (view / UPLOADS).symlink_to(Path("..") / UPLOADS)
    return view


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
            view = prepare_view(self.pipe, self.settings, self.index_dir)
            uploads = (self.index_dir / UPLOADS).resolve()
            dest = (uploads / name).resolve()
            if dest.parent != uploads:  # belt and braces: safe_filename already forbids this
                raise UploadError(f"refusing to write {dest} outside {uploads}")
            replaced = dest.exists()
            tmp = uploads / f".{name}.part"
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
            doc_id = f"{UPLOADS}/{name}"
            try:
                r = build_index(self.settings, self.pipe.embedder, view, self.index_dir, progress=False)
            except Exception:
                if not replaced:  # do not leave behind an article the index does not hold
                    dest.unlink(missing_ok=True)
                raise
            self.pipe.reload_if_changed()
            if doc_id not in self.pipe.store.manifest.get("documents", {}):
                dest.unlink(missing_ok=True)
                build_index(self.settings, self.pipe.embedder, view, self.index_dir, progress=False)
                self.pipe.reload_if_changed()
                raise UploadError(f"{orig_name or name} holds no readable sentences, so nothing was added"
                                  + (f" ({'; '.join(r.warnings)})" if r.warnings else ""))
            return UploadResult(doc_id, r.n_docs, r.n_chunks, r.embedded, r.seconds, replaced)
