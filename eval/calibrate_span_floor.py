"""Fit the span ranker's abstention floor: the confidence under which no span of the passages looks like an answer.

The evidence gate (``eval/calibrate_abstention.py``) refuses questions the retrieved passages share too
little with. It cannot refuse a question about a detail of the right story that the story does not give:
the passages hold every word of it, and a span of the asked-for type stands close by ("Who owns the
saxophone?" of an auction report that never says; "Auction House" came back). What is left is how much the
best span looks like an answer: its confidence is the span ranker's score (``rag/spans.py``, a logistic
model of "this candidate is the answer") plus a weight times the share of the question's words around its
sentence (``ev_coverage``); when it is low, the bot says the articles do not answer.

Data: ``eval/xquad_split.py`` — XQuAD with half of each article's paragraphs held out; a question about a
held-out paragraph asks a detail of an article that is in the index, but not the answer. The floor is
fitted on the questions the ranker was trained on and sample 0 (as the evidence gate was), and the same
table is then printed for the held-out sample's questions (``--limit 300 --seed 1``), which took no part.

The ranker learned on XQuAD, and its scores run lower on news: a floor fitted on XQuAD alone (−1.0) cost
a tenth of the right answers on the seed and BBC question sets. So the news dev sets (``NEWS_GOLD``, asked of
each ``--news-index``: seed + BBC, and the seed alone) are a second pool, and the floor must keep at least
97% of the right answers in each pool.

The coverage weight is the ratio of the two coefficients of a logistic regression of "unanswerable" against
"answered right" on (score, coverage), over the XQuAD fit questions the pipeline answers. The floor chosen
then maximises right answers minus unanswerable questions answered, summed over the pools, among the floors
that keep 97% of each pool's right answers: a right answer is worth as much as an invented one costs. A
wrong answer to an answerable question is counted as neither, since its quoted sentence usually holds the
answer (citation precision 0.92).

    python eval/calibrate_span_floor.py --split-dir /tmp/xquad-split \
        --news-index ~/.cache/newsrag/eval-seed-bbc-<hash> --news-index index            # collect, fit, print
    python eval/calibrate_span_floor.py --split-dir /tmp/xquad-split --news-index ... --write  # ... and store it

Collecting runs the whole pipeline (LLM included) on ~800 XQuAD and ~200 news questions: about 25 minutes
on 2 cores. The rows are kept in ``SPLIT_DIR/floor_rows.json`` and ``SPLIT_DIR/news_rows.json`` and reused
by later runs (``--recollect`` to redo them). Each row also keeps the best span's features and the ranking
scores of the spans the scorer rated, for trying another floor feature offline (``eval/HISTORY.md``, the
twenty-first session).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from rag.gold import read_gold, sample_gold  # noqa: E402
from rag.spans import SCORER_WEIGHTS, WEIGHTS  # noqa: E402
from report_subset import training_ids  # noqa: E402

FLOORS = np.round(np.arange(-4.0, 2.01, 0.25), 2)
MIN_RIGHT_KEPT = 0.97
NEWS_GOLD = ("seed_gold.jsonl", "seed_probe.jsonl", "seed_probe_b.jsonl", "bbc_probe.jsonl")  # not the blind probes


def pools(gold: Path, trained_on: dict) -> tuple[set[str], set[str]]:
    """(fit ids, held-out ids) of XQuAD questions: what the ranker trained on plus sample 0; sample 1."""
    items = read_gold(gold)
    heldout = {g.id for g in sample_gold(items, 300, 1)}
    fit = (training_ids(items, trained_on) | {g.id for g in sample_gold(items, 150, 0)}) - heldout
    return fit, heldout


def _settings():
    from rag.settings import Settings

    return Settings(min_span_confidence=-math.inf)  # the floor off: every answer and its best span's score


def collect(split_dir: Path, ids: set[str]) -> list[dict]:
    """Ask every question of the split whose XQuAD id is in ``ids``; one row each."""
    from rag.embedding import make_embedder
    from rag.indexing import build_index

    s = _settings()
    build_index(s, make_embedder(s), split_dir / "corpus", split_dir / "index", progress=True)
    return ask_all(split_dir / "index", [g for g in read_gold(split_dir / "gold.jsonl")
                                         if g.id.removesuffix("-heldout") in ids])


def collect_news(indexes: list[Path]) -> list[dict]:
    """Ask the news dev sets of each index whose articles they are about (all their answerable docs indexed)."""
    from rag.store import IndexStore

    rows = []
    for index_dir in indexes:
        docs = set(IndexStore.load(index_dir).manifest.get("documents", {}))
        items = []
        for name in NEWS_GOLD:
            gold = read_gold(ROOT / "eval" / name)
            if {g.doc for g in gold if g.answerable} <= docs:
                items += gold
        rows += ask_all(index_dir, items)
    return rows


def ask_all(index_dir: Path, items) -> list[dict]:
    from tqdm import tqdm

    from rag.answer import Pipeline
    from rag.citations import strip_markers
    from rag.metrics import best_f1

    pipe = Pipeline.from_settings(_settings(), index_dir)
    pipe.warm_up()
    ranker = pipe.span_ranker()
    rows = []
    for g in tqdm(items, desc=f"questions ({index_dir.name})", unit="q"):
        a = pipe.ask(g.question)
        rows.append({"id": g.id, "answerable": g.answerable, "abstained": a.abstained,
                     "f1": best_f1(strip_markers(a.answer), g.answers) if g.answerable and not a.abstained else 0.0,
                     "score": ranker.answer_score(a.spans[0]) if a.spans and not a.abstained else None,
                     "coverage": a.spans[0].features.get("ev_coverage", 0.0) if a.spans and not a.abstained else None,
                     # kept so that another floor feature can be tried on the rows without asking again
                     "features": dict(a.spans[0].features) if a.spans and not a.abstained else None,
                     "ranked": [c.score for c in a.spans] if not a.abstained else None})
    return rows


def fit_weight(rows: list[dict]) -> float:
    """The coverage weight: logistic regression of unanswerable against answered right (F1 ≥ 0.5) on
    (score, coverage), over the rows answered with a ranked span; the ratio of its coefficients, to 2 places."""
    from sklearn.linear_model import LogisticRegression

    used = [r for r in rows if r["score"] is not None and not r["abstained"]
            and (not r["answerable"] or r["f1"] >= 0.5)]
    x = np.array([[r["score"], r["coverage"]] for r in used])
    y = np.array([r["answerable"] for r in used])
    a, b = LogisticRegression(max_iter=5000).fit(x, y).coef_[0]
    return round(float(b / a), 2)


def refused(rows: list[dict], floor: float, weight: float = 0.0) -> np.ndarray:
    """Whether each row ends as an abstention with this floor: it did already, or its best span's confidence
    (score + weight × coverage) is under the floor."""
    return np.array([r["abstained"] or (r["score"] is not None and r["score"] + weight * r["coverage"] < floor)
                     for r in rows], dtype=bool)


def trade_off(rows: list[dict], floors, weight: float = 0.0) -> list[dict]:
    """For each floor: false-abstain and F1 on the answerable rows, the share of right answers (F1 ≥ 0.5)
    kept, the share of unanswerable rows refused, and the utility (right answers − unanswerable answered)."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    f1 = np.array([r["f1"] for r in ans])
    right = f1 >= 0.5
    out = []
    for t in floors:
        ra, ru = refused(ans, t, weight), refused(una, t, weight)
        out.append({"floor": float(t),
                    "false_abstain": float(ra.mean()) if ans else math.nan,
                    "f1": float(np.where(ra, 0.0, f1).mean()) if ans else math.nan,
                    "right_kept": float((right & ~ra).sum() / right.sum()) if right.any() else 1.0,
                    "unanswerable_refused": float(ru.mean()) if una else math.nan,
                    "utility": int((right & ~ra).sum() - (~ru).sum())})
    return out


def choose_floor(pools: list[list[dict]], floors=FLOORS, weight: float = 0.0,
                 min_right_kept: float = MIN_RIGHT_KEPT) -> float:
    """Among the floors that keep ``min_right_kept`` of every pool's right answers, the one of the highest
    utility summed over the pools; the lowest such floor on a tie (refuse no more than it pays)."""
    tables = [trade_off(rows, floors, weight) for rows in pools]
    allowed = [(sum(t[k]["utility"] for t in tables), float(f)) for k, f in enumerate(floors)
               if all(t[k]["right_kept"] >= min_right_kept for t in tables)]
    best = max(u for u, _ in allowed)
    return min(f for u, f in allowed if u == best)


def print_table(title: str, rows: list[dict], weight: float, chosen: float | None = None) -> None:
    n_a = sum(r["answerable"] for r in rows)
    print(f"\n{title}: {n_a} answerable, {len(rows) - n_a} unanswerable")
    print(f"{'floor':>6} {'false_abstain':>13} {'F1':>6} {'right_kept':>10} {'unans_refused':>13} {'utility':>7}")
    for r in trade_off(rows, [-math.inf, *FLOORS], weight):
        mark = "  <- chosen" if chosen is not None and r["floor"] == chosen else ""
        print(f"{r['floor']:6.2f} {r['false_abstain']:13.3f} {r['f1']:6.3f} {r['right_kept']:10.3f} "
              f"{r['unanswerable_refused']:13.3f} {r['utility']:7d}{mark}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split-dir", type=Path, required=True, help="where eval/xquad_split.py writes (or wrote)")
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/xquad/gold.jsonl")
    ap.add_argument("--news-index", type=Path, action="append", default=[],
                    help="an index the news dev sets are asked of (repeatable): seed + BBC, the seed alone")
    ap.add_argument("--recollect", action="store_true", help="ask the questions again, do not reuse the rows")
    ap.add_argument("--write", action="store_true", help=f"store the chosen floor in the ranker's weights "
                    f"({WEIGHTS.name}, or {SCORER_WEIGHTS.name} when RAG_SCORER_PATH sets an answer scorer)")
    args = ap.parse_args(argv)

    from rag.settings import Settings, resolve_scorer_path

    # the weights the pipeline ranks with: those of the answer scorer's likelihoods when one is set
    weights_path = SCORER_WEIGHTS if resolve_scorer_path(Settings().scorer_path) else WEIGHTS
    print(f"fitting the floor of {weights_path.name}", file=sys.stderr)

    from xquad_split import split_corpus

    weights = json.loads(weights_path.read_text(encoding="utf-8"))
    fit_ids, held_ids = pools(args.gold, weights["trained_on"])
    rows_path = args.split_dir / "floor_rows.json"
    if args.recollect or not rows_path.exists():
        if not (args.split_dir / "gold.jsonl").exists():
            print(split_corpus(ROOT / "eval/xquad/corpus", args.gold, args.split_dir, seed=0), file=sys.stderr)
        rows_path.write_text(json.dumps(collect(args.split_dir, fit_ids | held_ids)), encoding="utf-8")
    rows = json.loads(rows_path.read_text(encoding="utf-8"))
    fit = [r for r in rows if r["id"].removesuffix("-heldout") in fit_ids]
    held = [r for r in rows if r["id"].removesuffix("-heldout") in held_ids]
    news_path = args.split_dir / "news_rows.json"
    if args.news_index and (args.recollect or not news_path.exists()):
        news_path.write_text(json.dumps(collect_news(args.news_index)), encoding="utf-8")
    news = json.loads(news_path.read_text(encoding="utf-8")) if news_path.exists() else []

    weight = fit_weight(fit)
    floor = choose_floor([fit, news] if news else [fit], weight=weight)
    print(f"confidence = ranker score + {weight} × coverage")
    print_table("fit questions (ranker training + sample 0)", fit, weight, floor)
    if news:
        print_table("news dev sets (" + ", ".join(NEWS_GOLD) + ")", news, weight, floor)
    print_table("held-out questions (sample 1, not used to fit)", held, weight, floor)
    print(f"\nchosen: coverage weight {weight}, floor {floor:.2f} (current: {weights.get('abstain_coverage_weight')}, "
          f"{weights.get('abstain_below')})")
    if args.write:
        weights["abstain_below"] = floor
        weights["abstain_coverage_weight"] = weight
        weights["abstain_fitted_on"] = {"split_seed": 0, "questions": len(fit),
                                        "answerable": sum(r["answerable"] for r in fit),
                                        "news_questions": len(news), "min_right_kept": MIN_RIGHT_KEPT}
        weights_path.write_text(json.dumps(weights, indent=1) + "\n", encoding="utf-8")
        print(f"written to {weights_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
