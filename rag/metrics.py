"""Metrics: pure functions that score one answer, and the summary over a run.

Definitions (``summarize``, per variant):

- retrieval (answerable questions): hit@1, hit@5, MRR@10 and doc_hit@5 over a
  separate ``Retriever.search(question, 10)`` with the variant's mode and the
  configured fusion settings. Its top ``top_k`` equals the passages the
  pipeline itself retrieved (retrieval is deterministic), and it is not timed.
  A chunk is relevant when it comes from the gold doc and its span covers at
  least half of the gold evidence span (offsets in the cleaned article text).
  Evidence that lies in the headline has no body span; since the headline is
  indexed (BM25) and shown with every chunk, any chunk of the gold doc counts for it.
- answers (answerable questions, an abstention scores 0): EM, token F1 and
  "contains" (normalized gold inside normalized answer), max over golds,
  SQuAD normalization from ``rag.text``; [n] markers are stripped first.
- citations: precision = relevant cited chunks / all cited chunks, over every
  question (a citation given for an unanswerable question is never relevant),
  where a cited chunk is relevant by the rule above or when it contains a gold
  answer as whole words; recall = share of answerable questions citing at
  least one relevant chunk. Precision is null when nothing was cited.
- abstention: accuracy = share of unanswerable questions abstained on (null
  without unanswerable items); false_abstain_rate = share of answerable ones.
- latency: p50/p95 of ``timings_s["total"]`` over all questions.

Every metric is on the 0..1 scale; a metric with an empty denominator is
``None`` (JSON null), never 0 or 1.

``ItemResult`` is the typed record of one scored question; ``score_answer``
builds it from what the pipeline returned, and ``summarize`` reduces a list of
them to the fixed metric blocks of the report. Nothing here runs a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from rag.gold import GoldItem
from rag.text import squad_normalize, token_f1

MRR_DEPTH = 10


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    p = squad_normalize(prediction)
    return float(any(p == squad_normalize(g) for g in golds))


def best_f1(prediction: str, golds: Iterable[str]) -> float:
    return max((token_f1(prediction, g) for g in golds), default=0.0)


def contains_answer(text: str, golds: Iterable[str]) -> float:
    """1.0 when a normalized gold answer occurs in the normalized text as whole words."""
    t = f" {squad_normalize(text)} "
    return float(any(g and f" {g} " in t for g in (squad_normalize(x) for x in golds)))


def span_relevant(start: int, end: int, ev_start: int, ev_end: int) -> bool:
    """A chunk [start, end) is relevant when it covers at least half of the evidence [ev_start, ev_end)."""
    length = ev_end - ev_start
    overlap = min(end, ev_end) - max(start, ev_start)
    return length > 0 and overlap * 2 >= length


def chunk_relevant(doc_id: str, start: int, end: int, gold: GoldItem, span: tuple[int, int] | None) -> bool:
    if not gold.answerable or doc_id != gold.doc:
        return False
    if span is None:  # evidence in the headline, which BM25 indexes with every chunk of its doc
        return True
    return span_relevant(start, end, *span)


def reciprocal_rank(relevant: Sequence[bool], depth: int = MRR_DEPTH) -> float:
    for rank, ok in enumerate(relevant[:depth], 1):
        if ok:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# -- one question ---------------------------------------------------------------------

@dataclass
class ItemResult:
    id: str
    question: str
    answerable: bool
    answers: list[str]
    doc: str | None
    answer: str = ""
    abstained: bool = False
    cited_doc_ids: list[str] = field(default_factory=list)
    cited_chunk_ids: list[str] = field(default_factory=list)
    citation_relevant: list[bool] = field(default_factory=list)
    cited_quotes: list[str] = field(default_factory=list)  # the sentence each citation quotes
    em: float = 0.0
    f1: float = 0.0
    contains: float = 0.0
    retrieved_chunk_ids: list[str] = field(default_factory=list)  # top MRR_DEPTH, best first
    retrieved_relevant: list[bool] = field(default_factory=list)
    retrieved_doc_hit: list[bool] = field(default_factory=list)
    latency_s: float = 0.0
    timings_s: dict = field(default_factory=dict)  # the pipeline's own breakdown (retrieve, first_token, ...)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what verification did: why a claim went, why it abstained

    def to_dict(self) -> dict:
        d = asdict(self)
        d["first_relevant_rank"] = next((i for i, ok in enumerate(self.retrieved_relevant, 1) if ok), None)
        d["latency_s"] = round(self.latency_s, 4)
        return d


def score_answer(gold: GoldItem, span, answer_text: str, abstained: bool, citations, retrieved, latency: float,
                 chunk_spans: dict[str, tuple[str, int, int, str]]) -> ItemResult:
    """Score one answer. ``citations``: objects with ``doc_id``/``chunk_id``; ``retrieved``: Chunk list, best first;
    ``chunk_spans``: chunk_id -> (doc_id, start, end, text) for the cited chunks."""
    from rag.citations import strip_markers

    r = ItemResult(gold.id, gold.question, gold.answerable, list(gold.answers), gold.doc,
                   answer=answer_text, abstained=abstained, latency_s=latency)
    for c in citations:
        r.cited_doc_ids.append(c.doc_id)
        r.cited_chunk_ids.append(c.chunk_id)
        r.cited_quotes.append(getattr(c, "quote", ""))
        # the cited chunk's span; without it, the quoted sentence's span (still inside that chunk)
        known = chunk_spans.get(c.chunk_id)
        doc_id, start, end, text = known if known else (c.doc_id, c.start, c.end, c.text)
        r.citation_relevant.append(bool(chunk_relevant(doc_id, start, end, gold, span)
                                        or (gold.answerable and contains_answer(text, gold.answers))))
    r.retrieved_chunk_ids = [ch.chunk_id for ch in retrieved]
    r.retrieved_relevant = [chunk_relevant(ch.doc_id, ch.start, ch.end, gold, span) for ch in retrieved]
    r.retrieved_doc_hit = [gold.answerable and ch.doc_id == gold.doc for ch in retrieved]
    if gold.answerable and not abstained:
        pred = strip_markers(answer_text)
        r.em, r.f1, r.contains = exact_match(pred, gold.answers), best_f1(pred, gold.answers), \
            contains_answer(pred, gold.answers)
    return r


def summarize(items: Sequence[ItemResult]) -> dict:
    """The fixed metric blocks of the report (without ``items``); see the module docstring for definitions."""
    ans = [r for r in items if r.answerable]
    unans = [r for r in items if not r.answerable]
    cites = [ok for r in items for ok in r.citation_relevant]
    lat = [r.latency_s for r in items if r.error is None]

    def rnd(x):
        return None if x is None else round(x, 4)

    return {
        "n": len(items),
        "n_answerable": len(ans),
        "retrieval": {
            "hit@1": rnd(_mean([float(any(r.retrieved_relevant[:1])) for r in ans])),
            "hit@5": rnd(_mean([float(any(r.retrieved_relevant[:5])) for r in ans])),
            "mrr@10": rnd(_mean([reciprocal_rank(r.retrieved_relevant, MRR_DEPTH) for r in ans])),
            "doc_hit@5": rnd(_mean([float(any(r.retrieved_doc_hit[:5])) for r in ans])),
        },
        "answer": {
            "em": rnd(_mean([r.em for r in ans])),
            "f1": rnd(_mean([r.f1 for r in ans])),
            "contains": rnd(_mean([r.contains for r in ans])),
        },
        "citations": {
            "precision": rnd(_mean([float(ok) for ok in cites])),
            "recall": rnd(_mean([float(any(r.citation_relevant)) for r in ans])),
        },
        "abstention": {
            "accuracy": rnd(_mean([float(r.abstained) for r in unans])),
            "false_abstain_rate": rnd(_mean([float(r.abstained) for r in ans])),
        },
        "latency_s": {"p50": rnd(percentile(lat, 50)), "p95": rnd(percentile(lat, 95))},
    }
