"""The evaluation harness: run gold questions through the pipeline and score every stage.

``rag eval --gold FILE.jsonl --corpus DIR`` checks the gold file against the
corpus first (every problem, line by line, exit code 2, before any model
loads), then asks every question through ``Pipeline.ask`` — the same code
path as ``rag ask`` — once per variant, and reports retrieval, answer,
citation, abstention and latency metrics.

This module is the runner: the variants, the per-question loop, the eval
index cache and ``run_cli``. The stages it strings together live in their own
modules — ``rag.gold`` (gold files and evidence spans), ``rag.metrics``
(metric definitions and scoring) and ``rag.report`` (JSON, table, plots,
HTML). Their public names are re-exported here, so ``from rag.evaluate
import ...`` keeps working.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Sequence

from rag.gold import (  # noqa: F401  (re-exported)
    GOLD_KEYS, GoldFormatError, GoldItem, check_gold_against_corpus, find_loose, parse_gold_file, parse_gold_line,
    read_gold, sample_gold,
)
from rag.metrics import (  # noqa: F401  (re-exported)
    MRR_DEPTH, ItemResult, best_f1, chunk_relevant, contains_answer, exact_match, percentile, reciprocal_rank,
    score_answer, span_relevant, summarize,
)
from rag.report import METRIC_ROWS, build_report, plot_latency, plot_metrics, render_html, summary_table  # noqa: F401

log = logging.getLogger(__name__)

# how an item's error says the pipeline failed on it (a bug), not that it refused the question (too long, empty)
INTERNAL_ERROR = "internal error: "

VARIANTS = {  # name -> (retrieval mode or None for the configured one, verify)
    "hybrid": ("hybrid", True),
    "dense": ("dense", True),
    "bm25": ("bm25", True),
    "noverify": (None, False),
}


def _line_of(problem: str) -> int:
    m = re.match(r"line (\d+)", problem)
    return int(m.group(1)) if m else 0


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
    from rag.llm import LLMUnavailable
    from rag.retrieval import Retriever

    s = pipe.settings
    results = []
    for g in gold:
        retriever = Retriever.from_settings(pipe.store, pipe.embedder, s, mode)
        try:
            q = clean_question(g.question, s.max_question_chars)
            hits = retriever.search(q, MRR_DEPTH)
            ans = pipe.ask(q, mode=mode, verify=verify)
        except QuestionError as e:
            r = ItemResult(g.id, g.question, g.answerable, list(g.answers), g.doc, error=str(e))
        except (LLMUnavailable, RuntimeError):
            raise  # the model is gone (a server that stopped): every question after this one would fail too
        except Exception as e:  # noqa: BLE001 - a bug met on one question must not throw away the others' results
            log.exception("question %s failed", g.id)
            r = ItemResult(g.id, g.question, g.answerable, list(g.answers), g.doc,
                           error=f"{INTERNAL_ERROR}{type(e).__name__}: {e}")
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
            r.notes = list(ans.notes)
        results.append(r)
        if on_item:
            on_item(r)
    return results


def indexed_copies(items: Sequence[GoldItem], corpus_dir: Path, indexed: dict) -> dict[str, str]:
    """Gold doc → the indexed doc with the same headline and body, for each gold doc the index skipped as a
    copy of another (``indexed``: the manifest's documents, each with its content ``hash``)."""
    from rag.documents import LoadReport, load_file

    by_hash = {meta.get("hash"): doc_id for doc_id, meta in indexed.items()}
    copies = {}
    for doc_id in sorted({i.doc for i in items if i.answerable} - set(indexed)):
        path = Path(corpus_dir) / doc_id.split("#", 1)[0]
        if path.is_file():
            for d in load_file(path, Path(corpus_dir), LoadReport()):
                if d.doc_id == doc_id and d.content_hash in by_hash:
                    copies[doc_id] = by_hash[d.content_hash]
    return copies


def cache_dir_for(corpus: Path) -> Path:
    """Where ``rag eval --corpus DIR`` keeps the index of DIR: one folder per absolute corpus path."""
    from rag.embedding_onnx import cache_root

    base = cache_root()
    key = hashlib.sha256(str(Path(corpus).resolve()).encode()).hexdigest()[:16]
    return base / f"eval-{Path(corpus).resolve().name}-{key}"


# -- CLI --------------------------------------------------------------------------------

def run_cli(gold: Path, corpus: Path | None, index: Path | None, out: Path | None, html: Path | None,
            limit: int | None, seed: int, variants: list[str], settings, compare: list[Path] = ()) -> int:
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

    gold_sets = {}
    if compare and html is None:
        return fail("--compare draws into the HTML report: give --html FILE too", 2)
    for path in compare:  # other gold sets' reports, read before any work so a bad path fails fast
        try:
            other = json.loads(Path(path).read_text(encoding="utf-8"))
            blocks = {b: dict(other[b]) for b in ("retrieval", "answer", "citations", "abstention")}
            for b, k in METRIC_ROWS:
                if b in blocks and not isinstance(blocks[b][k], (int, float, type(None))):
                    raise ValueError(f"{b}.{k} is not a number")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            return fail(f"--compare {path}: not a rag eval JSON report ({e})", 2)
        name = str(other.get("gold_set") or Path(path).stem)
        while name in gold_sets or name == gold.name:  # the same gold set again (before/after): keep both
            name += "'"
        gold_sets[name] = blocks

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
        pipe.warm_up()
    except KeyboardInterrupt:
        return fail(f"interrupted while indexing; the previous index in {index_dir}/ is unchanged", 130)
    except (IndexError_, LLMUnavailable, FileNotFoundError, ValueError, RuntimeError) as e:
        return fail(str(e), 1)
    indexed = pipe.store.manifest.get("documents", {})
    copies = indexed_copies(items, corpus_dir, indexed)
    if copies:
        # the index keeps one copy of an article found twice (the BBC set has 97); a gold doc that is the
        # skipped copy is scored as the kept one, which has the very same text and offsets
        console.print(f"note: {len(copies)} gold doc(s) are copies of indexed articles and are scored as those: "
                      + ", ".join(f"{a} = {b}" for a, b in sorted(copies.items())[:5]), markup=False)
        items = [dataclasses.replace(i, doc=copies[i.doc]) if i.doc in copies else i for i in items]
    missing = sorted({i.doc for i in items if i.answerable} - set(indexed))
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
    refused = [r for r in next(iter(runs.values())) if r.error and not r.error.startswith(INTERNAL_ERROR)]
    internal = [r for rs in runs.values() for r in rs if r.error and r.error.startswith(INTERNAL_ERROR)]  # any variant
    if refused:
        console.print(f"warning: {len(refused)} question(s) were refused by the pipeline (see items[].error)",
                      style="yellow")
    if internal:
        err.print(f"error: {len(internal)} question(s) failed inside the pipeline, a bug (the traceback is logged "
                  f"above; items[].error has each one), first {internal[0].id}: {internal[0].error}",
                  markup=False, highlight=False, soft_wrap=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(build_report(runs, gold.name), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {out}", markup=False)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        meta = (f"gold {gold} · corpus {corpus_dir} · index {index_dir} · {len(items)} questions"
                + (f" (sample of --limit {limit}, --seed {seed})" if limit else "")
                + f" · LLM {Path(settings.llm_path).name if not settings.llm_url else settings.llm_url}"
                + (f" · answer scorer {settings.scorer_path}" if settings.scorer_path.lower() != "none" else ""))
        html.write_text(render_html(runs, f"newsrag evaluation: {gold.name}", meta, gold_sets), encoding="utf-8")
        console.print(f"wrote {html}", markup=False)
    return 1 if internal else 0
