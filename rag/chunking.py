"""Sentence-aware chunking with exact character offsets.

Sentences come from spaCy's rule-based sentencizer (with the English
tokenizer's abbreviation rules: "U.S.", "Mr.", "p.m." do not end a sentence),
run paragraph by paragraph (a newline always ends a sentence); it is several
times faster than pysbd at the same quality on news text. A chunk packs whole sentences up to ``chunk_tokens`` tokens of
the embedding model and starts its successor ``overlap`` tokens back, again
in whole sentences; a sentence longer than a chunk becomes a chunk of its
own rather than being cut. Every chunk records ``start``/``end`` offsets into
the cleaned article and the offsets of its sentences, so a citation can quote
and highlight the exact supporting sentence. Chunk ids hash the doc id and the
chunk text: an unchanged passage keeps its id across rebuilds.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.documents import Document

Span = tuple[int, int]
CHUNKER = "spacy-sentencizer/2"  # recorded in the manifest: a new splitter means new chunks
_PARA = re.compile(r"[^\n]+")
# the sentencizer ends a sentence after the punctuation that follows its full stop, so the opening quote mark
# of the next sentence ("…his daily address. “Russia must…") would stay behind on this one
_TRAILING_OPEN_QUOTE = re.compile(r"(?:\s+[“\"‘«]+)+$")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]  # absolute offsets into the article text

    def embed_text(self) -> str:
        """What BM25 indexes: the headline gives every chunk its article's topic. (The dense index embeds
        each sentence alone: with the headline prepended, seed + BBC hit@5 fell 0.81 → 0.71.)"""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id, "doc_id": self.doc_id, "title": self.title,
            "start": self.start, "end": self.end, "text": self.text,
            "sentences": [list(s) for s in self.sentences],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        return cls(d["chunk_id"], d["doc_id"], d["title"], d["start"], d["end"], d["text"],
                   tuple((int(a), int(b)) for a, b in d["sentences"]))


_SENTENCIZER: list = []  # spaCy's blank English pipeline with its rule-based sentencizer, made once
_SENTENCIZER_LOCK = threading.Lock()


def _sentencizer():
    with _SENTENCIZER_LOCK:  # a second thread asking while it is made waits for it
        if not _SENTENCIZER:
            from rag.text import import_spacy

            nlp = import_spacy().blank("en")
            nlp.add_pipe("sentencizer")
            nlp.max_length = 10**8
            _SENTENCIZER.append(nlp)
        return _SENTENCIZER[0]


def _strip(text: str, a: int, b: int) -> Span | None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of ``text``, stripped of surrounding whitespace, in order, never overlapping."""
    paras = [(m.start(), m.group()) for m in _PARA.finditer(text) if m.group().strip()]
    spans: list[Span] = []
    for (p_start, p_text), doc in zip(paras, _sentencizer().pipe(p for _, p in paras)):
        sents = list(doc.sents)
        carry = None  # where an opening quote mark moved from the previous sentence begins
        for k, sent in enumerate(sents):
            a, b = p_start + sent.start_char, p_start + sent.end_char
            if carry is not None:
                a, carry = carry, None
            m = _TRAILING_OPEN_QUOTE.search(text, a, b)
            # not in the paragraph's last sentence: there it opens nothing
            if m and any(s.text.strip() for s in sents[k + 1:]) and text[a:m.start()].strip():
                carry, b = m.start(), m.start()
            span = _strip(text, a, b)
            if span:
                spans.append(span)
    return spans


def chunk_id_for(doc_id: str, text: str) -> str:
    return hashlib.sha256(f"{doc_id}\x00{text}".encode()).hexdigest()[:20]


def pack_sentences(token_counts: Sequence[int], chunk_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """Group sentence indices into [i, j) windows of at most chunk_tokens, overlapping by whole sentences."""
    n, windows, i = len(token_counts), [], 0
    while i < n:
        j, total = i, 0
        while j < n and (j == i or total + token_counts[j] <= chunk_tokens):
            total += token_counts[j]
            j += 1
        windows.append((i, j))
        if j >= n:
            break
        k, ov = j, 0
        while k - 1 > i and ov + token_counts[k - 1] <= overlap:
            k -= 1
            ov += token_counts[k]
        i = k
    return windows


def chunk_article(
    doc: Document,
    count_tokens: Callable[[list[str]], list[int]],
    chunk_tokens: int = 128,
    overlap: int = 32,
) -> list[Chunk]:
    """Chunks of one article; ``count_tokens`` measures texts in embedding-model tokens."""
    spans = split_sentences(doc.text)
    if not spans:
        return []
    counts = count_tokens([doc.text[a:b] for a, b in spans])
    chunks = []
    for i, j in pack_sentences(counts, chunk_tokens, overlap):
        start, end = spans[i][0], spans[j - 1][1]
        text = doc.text[start:end]
        chunks.append(Chunk(chunk_id_for(doc.doc_id, text), doc.doc_id, doc.title, start, end, text, tuple(spans[i:j])))
    return chunks
