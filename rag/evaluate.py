"""The evaluation harness: run gold questions through the pipeline and score every stage.

``rag eval --gold FILE.jsonl --corpus DIR`` checks the gold file against the
corpus first (every problem, line by line, exit code 2, before any model
loads), then asks every question through ``Pipeline.ask`` — the same code
path as ``rag ask`` — once per variant, and reports:

- retrieval (answerable questions): hit@1, hit@5, MRR@10 and doc_hit@5 over a
  separate ``Retriever.search(question, 10)`` with the variant's mode and the
  configured fusion settings. Its top ``top_k`` equals the passages the
  pipeline itself retrieved (retrieval is deterministic), and it is not timed.
  A chunk is relevant when it comes from the gold doc and its span covers at
  least half of the gold evidence span (offsets in the cleaned article text).
  Evidence that lies in the headline has no body span; since the headline is
  embedded with every chunk, any chunk of the gold doc counts for it.
- answers (answerable questions, an abstention scores 0): EM, token F1 and
  "contains" (normalized gold inside normalized answer), max over golds,
  SQuAD normalization from ``rag.text``; [n] markers are stripped first.
- citations (answerable questions): precision = relevant cited chunks / all
  cited chunks, where a cited chunk is relevant by the rule above or when it
  contains a gold answer as whole words; recall = share of questions citing at
  least one relevant chunk. Precision is null when nothing was cited.
- abstention: accuracy = share of unanswerable questions abstained on (null
  without unanswerable items); false_abstain_rate = share of answerable ones.
- latency: p50/p95 of ``timings_s["total"]`` over all questions.

Every metric is on the 0..1 scale; a metric with an empty denominator is
``None`` (JSON null), never 0 or 1. Compromise: the HTML report lives in this
module too (``write_html``), to keep the harness in one place.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from rag.text import squad_normalize, token_f1

GOLD_KEYS = ("id", "question", "answers", "doc", "evidence", "answerable")
VARIANTS = {  # name -> (retrieval mode or None for the configured one, verify)
    "hybrid": ("hybrid", True),
    "dense": ("dense", True),
    "bm25": ("bm25", True),
    "noverify": (None, False),
}
MRR_DEPTH = 10


# -- gold file ----------------------------------------------------------------------

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


def _line_of(problem: str) -> int:
    m = re.match(r"line (\d+)", problem)
    return int(m.group(1)) if m else 0


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


# -- metrics (pure functions) ---------------------------------------------------------

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
    if span is None:  # evidence in the headline, which is embedded with every chunk of its doc
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
    em: float = 0.0
    f1: float = 0.0
    contains: float = 0.0
    retrieved_chunk_ids: list[str] = field(default_factory=list)  # top MRR_DEPTH, best first
    retrieved_relevant: list[bool] = field(default_factory=list)
    retrieved_doc_hit: list[bool] = field(default_factory=list)
    latency_s: float = 0.0
    timings_s: dict = field(default_factory=dict)  # the pipeline's own breakdown (retrieve, first_token, ...)
    error: str | None = None

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
    cites = [ok for r in ans for ok in r.citation_relevant]
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


def build_report(runs: dict[str, list[ItemResult]]) -> dict:
    """The JSON report: the fixed keys describe the first variant; with several, ``variants`` holds each."""
    names = list(runs)
    first = runs[names[0]]
    report = {**summarize(first), "items": [r.to_dict() for r in first]}
    if len(names) > 1:
        report["variants"] = {name: {**summarize(items), "items": [r.to_dict() for r in items]}
                              for name, items in runs.items()}
    return report


# -- running ----------------------------------------------------------------------------

def variant_settings(name: str, settings) -> tuple[str, bool]:
    """(retrieval mode, verify) for a variant name; raises ValueError for an unknown one."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}")
    mode, verify = VARIANTS[name]
    return mode or settings.retrieval_mode, verify


def evaluate_variant(pipe, gold: Sequence[GoldItem], spans: dict, mode: str, verify: bool,
                     on_item=None) -> list[ItemResult]:
    """Ask every gold question through ``pipe`` with this retrieval mode and verification setting."""
    from rag.answer import QuestionError, clean_question
    from rag.retrieval import Retriever

    s = pipe.settings
    results = []
    for g in gold:
        retriever = Retriever(pipe.store, pipe.embedder, mode, s.rrf_k, s.candidates)
        try:
            q = clean_question(g.question, s.max_question_chars)
            hits = retriever.search(q, MRR_DEPTH)
            ans = pipe.ask(q, mode=mode, verify=verify)
        except QuestionError as e:
            r = ItemResult(g.id, g.question, g.answerable, list(g.answers), g.doc, error=str(e))
        else:
            chunk_spans = {h.chunk.chunk_id: (h.chunk.doc_id, h.chunk.start, h.chunk.end, h.chunk.text)
                           for h in list(hits) + list(ans.passages)}
            for c in ans.citations:
                if c.chunk_id not in chunk_spans:
                    pos = pipe.store.position(c.chunk_id)
                    if pos is not None:
                        ch = pipe.store.chunks[pos]
                        chunk_spans[c.chunk_id] = (ch.doc_id, ch.start, ch.end, ch.text)
            r = score_answer(g, spans.get(g.id), ans.answer, ans.abstained, ans.citations,
                             [h.chunk for h in hits], ans.timings_s.get("total", 0.0), chunk_spans)
            r.timings_s = {k: round(v, 4) for k, v in ans.timings_s.items()}
        results.append(r)
        if on_item:
            on_item(r)
    return results


def warm_up(pipe) -> None:
    """Load every lazy model now, so the first question's latency does not include loading them."""
    pipe.embedder.encode_queries(["warm up"])
    if hasattr(pipe.generator, "load"):
        pipe.generator.load()
    if hasattr(pipe, "nlp"):
        pipe.nlp()


def sample_gold(items: Sequence[GoldItem], limit: int | None, seed: int) -> list[GoldItem]:
    """A seeded random sample of ``limit`` items, kept in file order (all items without a limit)."""
    if not limit or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def cache_dir_for(corpus: Path) -> Path:
    """Where ``rag eval --corpus DIR`` keeps the index of DIR: one folder per absolute corpus path."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsrag"
    key = hashlib.sha256(str(Path(corpus).resolve()).encode()).hexdigest()[:16]
    return base / f"eval-{Path(corpus).resolve().name}-{key}"


# -- output -----------------------------------------------------------------------------

_ROWS = [("retrieval", "hit@1"), ("retrieval", "hit@5"), ("retrieval", "mrr@10"), ("retrieval", "doc_hit@5"),
         ("answer", "em"), ("answer", "f1"), ("answer", "contains"),
         ("citations", "precision"), ("citations", "recall"),
         ("abstention", "accuracy"), ("abstention", "false_abstain_rate"),
         ("latency_s", "p50"), ("latency_s", "p95")]


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def summary_table(summaries: dict[str, dict], title: str = "evaluation"):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("metric")
    for name in summaries:
        t.add_column(name, justify="right")
    for block, key in _ROWS:
        t.add_row(f"{block} {key}", *[_fmt(s[block][key]) for s in summaries.values()])
    first = next(iter(summaries.values()))
    t.caption = f"n = {first['n']} questions, {first['n_answerable']} answerable"
    return t


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_latency(runs: dict[str, list[ItemResult]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    lats = {name: [r.latency_s for r in items if r.error is None] for name, items in runs.items()}
    every = [x for v in lats.values() for x in v] or [0.0]
    n_bins = min(30, max(5, len(every) // (3 * len(lats))))
    bins = np.linspace(0.0, max(every) * 1.02 + 1e-3, n_bins + 1)  # the same bins for every variant
    for name, lat in lats.items():
        if lat:
            ax.hist(lat, bins=bins, alpha=0.55, label=f"{name} (p50 {percentile(lat, 50):.2f} s)")
    ax.set_xlabel("seconds per question (total)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    try:
        return _png(fig)
    finally:
        plt.close(fig)


def plot_metrics(summaries: dict[str, dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in _ROWS if r[0] != "latency_s"]
    labels = [k for _, k in rows]
    fig, ax = plt.subplots(figsize=(9, 3.4))
    width = 0.8 / max(1, len(summaries))
    for i, (name, s) in enumerate(summaries.items()):
        vals = [s[b][k] if s[b][k] is not None else 0.0 for b, k in rows]
        ax.bar([x + i * width for x in range(len(rows))], vals, width, label=name)
    ax.set_xticks([x + width * (len(summaries) - 1) / 2 for x in range(len(rows))], labels, rotation=35, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("0..1 (n/a drawn as 0)")
    ax.set_title("Metrics per variant")
    ax.legend()
    try:
        return _png(fig)
    finally:
        plt.close(fig)


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.wrong{background:#fde2e2}.ok{background:#e3f6e3}
.abst{background:#fff4d6}.bad{color:#b00020;font-weight:bold}.good{color:#1b7a1b}.small{color:#666;font-size:12px}"""


def render_html(runs: dict[str, list[ItemResult]], title: str = "newsrag evaluation", meta: str = "") -> str:
    """A self-contained HTML page: summary per variant, plots, and the first variant question by question."""
    esc = html.escape
    summaries = {name: summarize(items) for name, items in runs.items()}
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
           f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"]
    if meta:
        out.append(f"<p class='small'>{esc(meta)}</p>")
    out.append("<h2>Summary</h2><table><tr><th>metric</th>"
               + "".join(f"<th>{esc(n)}</th>" for n in summaries) + "</tr>")
    for block, key in _ROWS:
        out.append(f"<tr><td>{esc(block)} {esc(key)}</td>"
                   + "".join(f"<td class='num'>{_fmt(s[block][key])}</td>" for s in summaries.values()) + "</tr>")
    first = next(iter(summaries.values()))
    out.append(f"</table><p class='small'>n = {first['n']}, answerable = {first['n_answerable']}. "
               "n/a: no question to compute it on.</p>")
    out.append(f"<h2>Plots</h2><img alt='metrics per variant' src='data:image/png;base64,{plot_metrics(summaries)}'>"
               f"<br><img alt='latency distribution' src='data:image/png;base64,{plot_latency(runs)}'>")
    name, items = next(iter(runs.items()))
    out.append(f"<h2>Questions ({esc(name)})</h2><p class='small'>Red rows: wrong answer (answerable with F1 &lt; 0.5, "
               "or unanswerable but answered). Yellow: abstained on an answerable question. "
               "Citations in red are not supported by the gold evidence.</p>")
    out.append("<table><tr><th>id</th><th>question</th><th>gold</th><th>answer</th><th>F1</th>"
               "<th>first relevant rank</th><th>citations</th><th>s</th></tr>")
    for r in items:
        if r.error:
            cls = "wrong"
        elif r.answerable and r.abstained:
            cls = "abst"
        elif (r.answerable and r.f1 < 0.5) or (not r.answerable and not r.abstained):
            cls = "wrong"
        else:
            cls = "ok"
        gold = " | ".join(r.answers) if r.answerable else "(unanswerable)"
        answer = f"error: {r.error}" if r.error else ("(abstained) " if r.abstained else "") + r.answer
        cites = "<br>".join(
            f"<span class='{'good' if ok else 'bad'}'>{'✓' if ok else '✗'} {esc(d)} {esc(c[:10])}</span>"
            for d, c, ok in zip(r.cited_doc_ids, r.cited_chunk_ids, r.citation_relevant))
        rank = next((str(i) for i, ok in enumerate(r.retrieved_relevant, 1) if ok), "–") if r.answerable else ""
        out.append(f"<tr class='{cls}'><td>{esc(r.id)}</td><td>{esc(r.question)}</td><td>{esc(gold)}</td>"
                   f"<td>{esc(answer)}</td><td class='num'>{r.f1:.2f}</td><td class='num'>{rank}</td>"
                   f"<td>{cites}</td><td class='num'>{r.latency_s:.2f}</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)


# -- CLI --------------------------------------------------------------------------------

def run_cli(gold: Path, corpus: Path | None, index: Path | None, out: Path | None, html: Path | None,
            limit: int | None, seed: int, variants: list[str], settings) -> int:
    """``rag eval``: validate, (build and) load the index, run each variant, print and write reports."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    err = Console(stderr=True, style="red")

    def fail(msg: str, code: int) -> int:
        err.print(f"error: {msg}", markup=False, highlight=False, soft_wrap=True)
        return code

    if corpus is None and index is None:
        return fail("give --corpus DIR (build or reuse an index of it) or --index DIR", 2)
    names = list(dict.fromkeys(variants)) or [settings.retrieval_mode if settings.verify else "noverify"]
    try:
        modes = {n: variant_settings(n, settings) for n in names}
    except ValueError as e:
        return fail(str(e), 2)

    # 1. the gold file, before anything heavy runs
    items, problems = parse_gold_file(gold)
    if not items:
        return fail(f"{gold}: " + "; ".join(problems), 2)
    corpus_dir = corpus
    if corpus_dir is None:
        from rag.store import IndexError_, IndexStore

        try:
            manifest = json.loads((IndexStore.current_build(index) / "manifest.json").read_text())
        except (IndexError_, OSError, ValueError) as e:
            return fail(str(e), 1)
        corpus_dir = Path(manifest.get("corpus", ""))
        if not manifest.get("corpus") or not corpus_dir.is_dir():
            return fail(f"the index in {index}/ was built from {manifest.get('corpus')!r}, which is not a folder here; "
                        "pass --corpus DIR so the gold evidence can be checked", 2)
    try:
        spans, corpus_problems = check_gold_against_corpus(items, corpus_dir)
    except FileNotFoundError as e:
        return fail(str(e), 2)
    problems = sorted(problems + corpus_problems, key=_line_of)
    if problems:
        return fail(f"{gold}: {len(problems)} problem(s) in the gold file:\n" + "\n".join(problems), 2)
    headline = [i.id for i in items if i.answerable and spans.get(i.id) is None]
    if headline:
        console.print(f"note: {len(headline)} evidence quote(s) are not in the cleaned body (headline or a dropped line) "
                      f"(any chunk of the doc counts as relevant): {', '.join(headline[:5])}", markup=False)
    items = sample_gold(items, limit, seed)

    # 2. the index and the models
    from rag.answer import Pipeline
    from rag.llm import LLMUnavailable
    from rag.store import IndexError_

    index_dir = Path(index) if index is not None else cache_dir_for(corpus_dir)
    try:
        if corpus is not None:
            from rag.embedding import make_embedder
            from rag.indexing import build_index

            console.print(f"index of {corpus} in {index_dir}/ (built once, then reused while the articles are unchanged)",
                          markup=False)
            emb = make_embedder(settings)
            build_index(settings, emb, corpus, index_dir, progress=True)
        pipe = Pipeline.from_settings(settings, index_dir)
        warm_up(pipe)
    except KeyboardInterrupt:
        return fail(f"interrupted while indexing; the previous index in {index_dir}/ is unchanged", 130)
    except (IndexError_, LLMUnavailable, FileNotFoundError, ValueError, RuntimeError) as e:
        return fail(str(e), 1)
    missing = sorted({i.doc for i in items if i.answerable} - set(pipe.store.manifest.get("documents", {})))
    if missing:
        console.print(f"warning: {len(missing)} gold doc(s) are not in the index: {', '.join(missing[:5])}",
                      style="yellow", markup=False)

    # 3. run
    runs: dict[str, list[ItemResult]] = {}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console) as bar:
            for name in names:
                task = bar.add_task(f"eval {name}", total=len(items))
                mode, verify = modes[name]
                runs[name] = evaluate_variant(pipe, items, spans, mode, verify,
                                              on_item=lambda r, t=task: bar.advance(t))
    except KeyboardInterrupt:
        return fail("interrupted; no report written", 130)
    except (LLMUnavailable, RuntimeError) as e:
        return fail(str(e), 1)

    # 4. report
    summaries = {name: summarize(r) for name, r in runs.items()}
    Console().print(summary_table(summaries, f"rag eval {gold.name}"))
    n_err = sum(1 for r in next(iter(runs.values())) if r.error)
    if n_err:
        console.print(f"warning: {n_err} question(s) were refused by the pipeline (see items[].error)", style="yellow")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(build_report(runs), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {out}", markup=False)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        meta = (f"gold {gold} · corpus {corpus_dir} · index {index_dir} · {len(items)} questions"
                + (f" (sample of --limit {limit}, --seed {seed})" if limit else "")
                + f" · LLM {Path(settings.llm_path).name if not settings.llm_url else settings.llm_url}")
        html.write_text(render_html(runs, f"newsrag evaluation: {gold.name}", meta), encoding="utf-8")
        console.print(f"wrote {html}", markup=False)
    return 0
