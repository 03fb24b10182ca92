"""Load articles from a corpus folder: decode, clean, and keep metadata.

A corpus is any folder; every ``*.txt``, ``*.md``, ``*.html``/``*.htm``,
``*.json`` and ``*.jsonl`` file under it is read, recursively. The doc id is
the path relative to the corpus root. Files that cannot be used (binary,
empty, unreadable, malformed) are skipped with a warning naming the file;
one bad file never stops a build.

Markdown and HTML are read as the text they show. Cleaning only drops whole boilerplate lines (copyright, credits, a lone
"Comments", rules of dashes) and collapses blank lines; it never edits the
sentences of the article, so quotes and offsets stay faithful to the source.
"""

from __future__ import annotations

import codecs
import hashlib
import html.parser
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
MAX_FILE_BYTES = 50 * 1024 * 1024  # larger files are refused: almost surely not an article
# A dataset's own notes (the BBC corpus's README.TXT: who to cite, whom to contact) describe the folder,
# they are not news: indexed, they answer "Who owns the articles?" from the folder's licence.
NOT_ARTICLES = {"readme", "license", "licence", "copying", "notice", "changelog", "changes", "authors", "citation"}

_BOILERPLATE = re.compile(
    r"""^\s*(
        (©|\(c\)|copyright\b).* |
        .*\ball\ rights\ reserved\b.* |
        [-—–]*\s*with\ (additional\ )?(assistance|reporting)\ (from|by)\b.* |
        (distributed|provided)\ by\ .*(content\ agency|syndicate|news\ service).* |
        published\ in\ [\w &,]{1,40} |
        comments? |
        (share|advertisement|related\ articles?|read\ more)\s*:? |
        [-—–_=*•·\s]{3,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_DATE = re.compile(
    r"\b(\d{4}-\d{2}-\d{2}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}"
    r"|\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4})\b"
)


@dataclass(frozen=True)
class Document:
    """One cleaned article. ``text`` is the body (headline excluded); offsets point into it."""

    doc_id: str
    title: str
    text: str
    source: str
    date: str | None = None
    content_hash: str = ""


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_with(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM) first; real corpora also hold cp1252/Latin-1 files, and
    UTF-16 with its byte-order mark (Windows Notepad's "Unicode")."""
    if data.startswith(_UTF16_BOMS):  # a stray last byte ("echo >> file") is one bad letter, not another encoding
        return data.decode("utf-16", errors="replace"), "utf-16"
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def decode_bytes(data: bytes) -> str:
    return decode_with(data)[0]


def looks_binary(data: bytes) -> bool:
    if data.startswith(_UTF16_BOMS):  # its NUL bytes are half of each letter: judge the letters
        codec = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        letters = data[2:8194].decode(codec, errors="replace")
        # replaced bytes, control codes, and what no text holds: surrogates, private use, unassigned
        bad = sum(1 for ch in letters if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\f\r")
                  or unicodedata.category(ch) in ("Cs", "Co", "Cn"))
        return bool(letters) and bad / len(letters) > 0.05
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return bool(sample) and control / len(sample) > 0.05


class _HTMLText(html.parser.HTMLParser):
    """Visible text of an HTML page; scripts, styles and other non-content dropped."""

    SKIP = {"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "iframe"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "article", "section", "title", "blockquote",
             "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._pre = 0              # inside <pre>, a line break is one
        self._lists: list[int | None] = []  # each open list: the next item's number (<ol>), None (<ul>)
        self._number = ""

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag == "pre":
            self._pre += 1
        if tag in self.BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):  # a table's cells, apart: "Cost $4bn", not "Cost$4bn"
            self.parts.append(" ")
        if tag in ("ol", "ul"):
            start = dict(attrs).get("start") if tag == "ol" else None
            self._lists.append((int(start) if start and start.isdigit() else 1) if tag == "ol" else None)
        elif tag == "li" and self._lists and self._lists[-1] is not None:
            # the number is part of what the page shows: "1986. The year the plant opened."
            self._number = f"{self._lists[-1]}. "  # before the item's first words, past any <p> inside it
            self._lists[-1] += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in ("ol", "ul") and self._lists:
            self._lists.pop()
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        data = data.replace("\r\n", "\n").replace("\r", "\n")
        if not self._pre:  # a line break in the markup is a space on the page; blocks make the lines
            data = data.replace("\n", " ")
        if self._in_title:
            self.title += data.replace("\n", " ")
        elif not self._skip:
            if self._number and data.strip():
                data, self._number = self._number + data.lstrip(), ""
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    body = re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
    lines = [ln.strip() for ln in body.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    title = parser.title.strip()
    if title and not text.startswith(title):
        text = title + "\n" + text
    return text


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def markdown_to_text(source: str) -> str:
    """The text a Markdown article shows: "# Headline" is the headline, "**$4 billion**" is "$4 billion", a
    link is its words, and raw HTML in it is read as an HTML page is (no scripts, no styles). A YAML front
    matter block is not text; its ``title:``, if any, is the headline."""
    from markdown_it import MarkdownIt

    title = ""
    source = source.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    m = _FRONT_MATTER.match(source)
    if m:
        t = re.search(r"^title:[ \t]*(.+?)[ \t]*$", m.group(1), re.M)
        title = t.group(1).strip("'\" ") if t else ""
        source = source[m.end():]
    # a line break stays one, as in a .txt article: "Headline\nFirst sentence." is a headline and a body
    md = MarkdownIt("commonmark", {"breaks": True}).enable("table")
    md.validateLink = lambda url: True  # "[Columbus](javascript:…)" is the word Columbus; nothing is rendered
    markup = md.render(source)
    text = html_to_text(markup)
    # the front matter's title is the headline when the article does not open with one of its own
    return f"{title}\n{text}" if title and not re.match(r"<h[1-6]\b", markup) else text


def clean_article(raw: str) -> tuple[str, str, str | None]:
    """Split raw article text into (headline, cleaned body, date found or None)."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [ln.strip() for ln in raw.split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return "", "", None
    title, body_lines = lines[0], lines[1:]
    kept = [ln for ln in body_lines if not _BOILERPLATE.match(ln)]
    date = None
    for ln in body_lines[:5]:
        m = _DATE.search(ln)
        if m:
            date = m.group(1)
            break
    return title[:300], "\n".join(kept), date


def _records_from_json(path: Path, text: str, report: LoadReport, rel: str) -> list[tuple[str, str]]:
    """(suffix id, raw article text) pairs from a .json or .jsonl file."""
    items: list[tuple[str, object]] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"#{n}", json.loads(line)))
            except json.JSONDecodeError as e:
                report.warn(f"{rel}: line {n} is not valid JSON ({e.msg}); skipped")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            report.warn(f"{rel}: not valid JSON ({e.msg} at line {e.lineno}); skipped")
            return []
        if isinstance(data, list):
            items = [(f"#{i + 1}", d) for i, d in enumerate(data)]
        else:
            items = [("", data)]
    out = []
    for suffix, obj in items:
        if not isinstance(obj, dict):
            report.warn(f"{rel}{suffix}: expected an object with a 'text' field; skipped")
            continue
        body = next((obj[k] for k in ("text", "body", "content", "article") if isinstance(obj.get(k), str)), None)
        if not body:
            report.warn(f"{rel}{suffix}: no 'text'/'body'/'content' field; skipped")
            continue
        title = next((obj[k] for k in ("title", "headline") if isinstance(obj.get(k), str)), "")
        out.append((suffix, (title.strip() + "\n" + body) if title else body))
    return out


def iter_corpus_files(root: Path, report: LoadReport) -> list[Path]:
    """Every article file under root, sorted; symlink loops and unreadable folders are reported, not fatal."""
    files: list[Path] = []
    others: list[str] = []  # files of other types, named once at the end: "notes.docx" is not read
    notes: list[str] = []   # a folder's README or LICENCE, named once too
    seen_dirs: set[tuple[int, int]] = set()

    def onerror(err: OSError) -> None:
        report.warn(f"{err.filename}: cannot read folder ({err.strerror}); skipped")

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            report.warn(f"{dirpath}: folder already visited (symlink loop); skipped")
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith("."):
                continue
            if p.suffix.lower() in SUFFIXES and p.stem.lower() in NOT_ARTICLES:
                notes.append(p.relative_to(root).as_posix())
            elif p.suffix.lower() in SUFFIXES:
                files.append(p)
            else:
                others.append(p.relative_to(root).as_posix())
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        report.warn(f"{len(others)} file{'' if len(others) == 1 else 's'} of other types not read ({shown}); "
                    f"articles are {', '.join(sorted(SUFFIXES))} files")
    if notes:
        report.warn(f"{', '.join(notes[:5])}{' and more' if len(notes) > 5 else ''}: the folder's own notes "
                    f"(README, LICENSE, …), not articles; not read — rename a file to index it")
    return sorted(files)


def load_file(path: Path, root: Path, report: LoadReport) -> list[Document]:
    rel = path.relative_to(root).as_posix()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            report.warn(f"{rel}: {size / 1e6:.0f} MB is larger than the {MAX_FILE_BYTES // 2**20} MB limit; skipped")
            return []
        data = path.read_bytes()
    except OSError as e:
        report.warn(f"{rel}: cannot read ({e.strerror}); skipped")
        return []
    if looks_binary(data):
        report.warn(f"{rel}: looks like a binary file, not text; skipped")
        return []
    text, encoding = decode_with(data)
    if not text.strip():  # no bytes, or only whitespace (a BOM, no-break spaces)
        report.warn(f"{rel}: empty file; skipped")
        return []
    if encoding not in ("utf-8-sig", "utf-16"):  # indexed all the same; the user may want to check its accents
        report.warn(f"{rel}: not UTF-8; read as {'Windows-1252' if encoding == 'cp1252' else 'Latin-1'}")
    suffix = path.suffix.lower()
    said = len(report.warnings)  # what this file's records say, apart from its encoding
    if suffix in (".json", ".jsonl"):
        raws = _records_from_json(path, text, report, rel)
    elif suffix in (".html", ".htm"):
        raws = [("", html_to_text(text))]
    elif suffix == ".md":
        raws = [("", markdown_to_text(text))]
    else:
        raws = [("", text)]
    if not raws and not any(w.startswith(rel) for w in report.warnings[said:]):
        report.warn(f"{rel}: no articles in this file; skipped")
    docs = []
    for sub, raw in raws:
        title, body, date = clean_article(raw)
        doc_id = rel + sub
        if not body.strip():
            report.warn(f"{doc_id}: empty article (no text after the headline); skipped")
            continue
        digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
        docs.append(Document(doc_id, title, body, str(path), date, digest))
    return docs


def load_corpus(root: Path | str) -> LoadReport:
    """Load every article under ``root``. Raises FileNotFoundError for a missing folder."""
    root = Path(root)
    if root.is_file():
        raise FileNotFoundError(f"{root} is a file; --corpus takes the folder that holds the articles "
                                f"({root.parent}/)")
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist (or is not a folder)")
    report = LoadReport()
    for path in iter_corpus_files(root, report):
        report.documents.extend(load_file(path, root, report))
    return report
