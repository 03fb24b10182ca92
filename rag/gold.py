"""Gold files: the questions ``rag eval`` asks, parsed, validated and anchored in the corpus.

A gold file is JSONL, one object per line with exactly the keys of
``GOLD_KEYS``. An answerable item names its answers, its doc (a path relative
to the corpus folder) and an evidence quote from that doc; an unanswerable one
has ``"answers": []``, ``"doc": null`` and ``"evidence": null``.

Validation reports every problem, each with its line, rather than stopping at
the first: ``parse_gold_file`` returns (items, problems) for callers that
print them, ``read_gold`` raises ``GoldFormatError`` for callers that just
want clean items. ``check_gold_against_corpus`` then checks each evidence
quote against the raw article file (whitespace-tolerant) and returns its span
in the cleaned text the chunks point into — ``None`` when the quote lies in
the headline (or a line the cleaner dropped), which has no body span.
Nothing here loads a model; ``rag.documents`` is imported only when the
corpus is checked.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

GOLD_KEYS = ("id", "question", "answers", "doc", "evidence", "answerable")


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: tuple[str, ...]
    doc: str | None
    evidence: str | None
    answerable: bool
    line: int = 0


class GoldFormatError(ValueError):
    """The gold file breaks the format; ``problems`` lists one message per problem, with its line."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s) in the gold file:\n" + "\n".join(problems))


def _type_name(v) -> str:
    return "null" if v is None else type(v).__name__


def parse_gold_line(obj, line: int) -> tuple[GoldItem | None, list[str]]:
    """One gold object -> (item or None, problems). Checks keys, types and the answerable rules."""
    where = f"line {line}"
    if not isinstance(obj, dict):
        return None, [f"{where}: expected a JSON object, got {_type_name(obj)}"]
    problems = []
    missing = [k for k in GOLD_KEYS if k not in obj]
    extra = sorted(k for k in obj if k not in GOLD_KEYS)
    if missing:
        problems.append(f"{where}: missing key(s) {', '.join(missing)}")
    if extra:
        problems.append(f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(GOLD_KEYS)})")
    if missing:
        return None, problems
    if "id" in obj and obj["id"] is not None:
        where = f"line {line} (id {obj['id']!r})"
    checks = [
        ("id", isinstance(obj["id"], str) and obj["id"].strip() != "", "a non-empty string"),
        ("question", isinstance(obj["question"], str) and any(ch.isalnum() for ch in obj["question"]),
         "a non-empty string with words"),
        ("answers", isinstance(obj["answers"], list) and all(isinstance(a, str) and a.strip() for a in obj["answers"]),
         "a list of non-empty strings"),
        ("doc", obj["doc"] is None or (isinstance(obj["doc"], str) and obj["doc"].strip() != ""),
         "a doc id (string) or null"),
        ("evidence", obj["evidence"] is None or (isinstance(obj["evidence"], str) and obj["evidence"].strip() != ""),
         "a non-empty string or null"),
        ("answerable", isinstance(obj["answerable"], bool), "true or false"),
    ]
    for key, ok, want in checks:
        if not ok:
            problems.append(f"{where}: {key!r} must be {want}, got {json.dumps(obj[key], ensure_ascii=False)[:80]}")
    if problems:
        return None, problems
    if obj["answerable"]:
        if not obj["answers"]:
            problems.append(f"{where}: answerable item has no answers")
        if obj["doc"] is None:
            problems.append(f"{where}: answerable item needs a 'doc'")
        if obj["evidence"] is None:
            problems.append(f"{where}: answerable item needs an 'evidence' quote from its doc")
    else:
        if obj["answers"]:
            problems.append(f"{where}: unanswerable item must have \"answers\": [] (has {len(obj['answers'])})")
        if obj["doc"] is not None:
            problems.append(f"{where}: unanswerable item must have \"doc\": null (has {obj['doc']!r})")
        if obj["evidence"] is not None:
            problems.append(f"{where}: unanswerable item must have \"evidence\": null")
    if problems:
        return None, problems
    return GoldItem(obj["id"], obj["question"], tuple(obj["answers"]), obj["doc"], obj["evidence"],
                    obj["answerable"], line), []


def parse_gold_file(path: Path) -> tuple[list[GoldItem], list[str]]:
    """(valid items, problems) of a gold JSONL file; blank lines are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], [f"file not found: {path}"]
    except (OSError, UnicodeDecodeError) as e:
        return [], [f"cannot read {path}: {e}"]
    items: list[GoldItem] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        item, errs = parse_gold_line(obj, n)
        problems += errs
        if item is None:
            continue
        if item.id in first_line:
            problems.append(f"line {n}: duplicate id {item.id!r} (first on line {first_line[item.id]})")
            continue
        first_line[item.id] = n
        items.append(item)
    if not items and not problems:
        problems.append("no gold items in the file")
    return items, problems


def read_gold(path: Path) -> list[GoldItem]:
    """Parse a gold JSONL file; raise ``GoldFormatError`` listing every problem."""
    items, problems = parse_gold_file(path)
    if problems:
        raise GoldFormatError(Path(path), problems)
    return items


def find_loose(haystack: str, needle: str) -> tuple[int, int] | None:
    """Span of ``needle`` in ``haystack`` where any run of whitespace matches any other run."""
    parts = needle.split()
    if not parts:
        return None
    m = re.search(r"\s+".join(re.escape(p) for p in parts), haystack)
    return (m.start(), m.end()) if m else None


def check_gold_against_corpus(items: Sequence[GoldItem], corpus: Path) -> tuple[dict[str, tuple[int, int] | None], list[str]]:
    """Evidence spans (cleaned-text offsets, None when the evidence is in the headline) and problems.

    The evidence must appear in the raw article file (whitespace-tolerant);
    its span is then looked up in the cleaned body the chunks point into.
    """
    from rag.documents import decode_bytes, load_corpus

    corpus = Path(corpus)
    docs = {d.doc_id: d for d in load_corpus(corpus).documents}
    spans: dict[str, tuple[int, int] | None] = {}
    problems: list[str] = []
    raw_cache: dict[str, str] = {}
    for it in items:
        if not it.answerable:
            continue
        where = f"line {it.line} (id {it.id!r})"
        doc = docs.get(it.doc)
        if doc is None:
            near = [d for d in docs if d.endswith("/" + it.doc) or it.doc.endswith("/" + d)]
            hint = f"; did you mean {near[0]!r}?" if near else " (doc ids are paths relative to the corpus folder)"
            problems.append(f"{where}: unknown doc {it.doc!r} in {corpus}{hint}")
            continue
        file_id = it.doc.split("#", 1)[0]
        if file_id not in raw_cache:
            raw_cache[file_id] = decode_bytes((corpus / file_id).read_bytes())
        if find_loose(raw_cache[file_id], it.evidence) is None:
            problems.append(f"{where}: evidence not found in {it.doc}: {it.evidence[:80]!r}")
            continue
        spans[it.id] = find_loose(doc.text, it.evidence)
    return spans, problems


def sample_gold(items: Sequence[GoldItem], limit: int | None, seed: int) -> list[GoldItem]:
    """A seeded random sample of ``limit`` items, kept in file order (all items without a limit)."""
    if not limit or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]
