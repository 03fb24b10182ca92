"""Fit the evidence gate's abstention threshold from data, not by feel.

The gate (``rag.answer``) abstains when the best supporting sentence scores
``cosine + RAG_EVIDENCE_COVERAGE_WEIGHT × coverage`` below ``RAG_MIN_EVIDENCE``, or when a name or number
the question asks about is in no retrieved passage. This script fits the weight and prints the threshold's
trade-off:

- answerable: XQuAD questions asked of the index of their own articles;
- unanswerable: the same questions asked of an index of *other* articles (seed + BBC), which cannot
  answer them.

Only the questions the span ranker was trained on and sample 0 are used (``rag/span_ranker.json`` records
how they were drawn); the held-out sample (``rag eval --limit 300 --seed 1``), the untouched questions and
the off-corpus set (``eval/xquad/offcorpus_gold.jsonl``) are left for the evaluation.

    python eval/calibrate_abstention.py --index ~/.cache/newsrag/eval-corpus-<hash> \\
        --other-index ~/.cache/newsrag/eval-seed-bbc-<hash>

The cosine/coverage pair is fitted by logistic regression (scikit-learn); the weight printed is the ratio
of its two coefficients. A threshold is then a line in the (cosine, coverage) plane; the table shows, for
each, the share of answerable questions wrongly refused (false-abstain) and of unanswerable ones rightly
refused, both with the names check the gate also applies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from rag.answer import gather_evidence  # noqa: E402
from rag.citations import name_runs, names_missing, numbers_missing  # noqa: E402
from rag.embedding import make_embedder  # noqa: E402
from rag.gold import read_gold, sample_gold  # noqa: E402
from rag.retrieval import Retriever  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.spans import WEIGHTS  # noqa: E402
from rag.store import IndexStore  # noqa: E402
from rag.text import question_stems  # noqa: E402
from report_subset import training_ids  # noqa: E402


def features(store, emb, s, question) -> tuple[float, float, bool]:
    """(cosine, coverage) of the best supporting sentence, and whether a name or number asked about is missing."""
    r = Retriever.from_settings(store, emb, s)
    hits = r.search(question, s.top_k)
    ev = gather_evidence(hits, question_stems(question), emb, question, store=store, query_vector=r.query_vector)
    if not ev:
        return 0.0, 0.0, True
    everything = "\n".join(h.chunk.title + "\n" + h.chunk.text for h in hits)
    missing = bool(names_missing(name_runs(question), everything) or numbers_missing(question, everything))
    return ev[0].cosine, ev[0].coverage, missing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/xquad/gold.jsonl")
    ap.add_argument("--offcorpus", type=Path, default=ROOT / "eval/xquad/offcorpus_gold.jsonl")
    ap.add_argument("--index", type=Path, required=True, help="index of the gold set's own articles")
    ap.add_argument("--other-index", type=Path, required=True, help="index of articles that cannot answer them")
    args = ap.parse_args(argv)

    s = Settings()
    emb = make_embedder(s)
    items = read_gold(args.gold)
    keep = training_ids(items, json.loads(WEIGHTS.read_text(encoding="utf-8"))["trained_on"])
    keep |= {g.id for g in sample_gold(items, 150, 0)}
    keep -= {g.id for g in sample_gold(items, 300, 1)}
    keep -= {json.loads(line)["id"].removeprefix("u-") for line in args.offcorpus.read_text().splitlines() if line}
    gold = [g for g in items if g.answerable and g.id in keep]
    own, other = IndexStore.load(args.index), IndexStore.load(args.other_index)
    pos = np.array([features(own, emb, s, g.question) for g in gold], dtype=float)
    neg = np.array([features(other, emb, s, g.question) for g in gold], dtype=float)

    (a, b, c), weight = fit_weight(pos, neg)
    print(f"{len(gold)} questions, each answerable on its own index and not on the other")
    print(f"logistic fit: {a:.2f}·cosine + {b:.2f}·coverage {c:+.2f}  →  evidence = cosine + {weight} × coverage")
    print(f"{'min_evidence':>12} {'false_abstain':>13} {'abstain_acc':>11}")
    for t, false_abstain, abstain in trade_off(pos, neg, weight, np.arange(0.60, 1.01, 0.02)):
        print(f"{t:12.2f} {false_abstain:13.3f} {abstain:11.3f}")
    (_, false_abstain, abstain), = trade_off(pos, neg, s.evidence_coverage_weight, [s.min_evidence])
    print(f"current settings (weight {s.evidence_coverage_weight}, min_evidence {s.min_evidence}): "
          f"false-abstain {false_abstain:.3f}, abstain {abstain:.3f}")
    return 0


def fit_weight(pos: np.ndarray, neg: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """Logistic regression of answerable (``pos``) against unanswerable (``neg``) on (cosine, coverage):
    its coefficients and intercept, and the coverage weight they imply (the ratio of the two coefficients),
    rounded to two places as the setting takes it."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([pos[:, :2], neg[:, :2]])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    model = LogisticRegression(max_iter=5000).fit(x, y)
    a, b = model.coef_[0]
    return (float(a), float(b), float(model.intercept_[0])), round(float(b / a), 2)


def refused(f: np.ndarray, weight: float, threshold: float) -> np.ndarray:
    """The gate's decision for rows of (cosine, coverage, names missing): refuse when the evidence score is
    under the threshold or a name or number asked about is missing."""
    return (f[:, 0] + weight * f[:, 1] < threshold) | (f[:, 2] > 0)


def trade_off(pos: np.ndarray, neg: np.ndarray, weight: float, thresholds) -> list[tuple[float, float, float]]:
    """(threshold, false-abstain on the answerable, share of the unanswerable refused) for each threshold."""
    return [(float(t), float(refused(pos, weight, t).mean()), float(refused(neg, weight, t).mean()))
            for t in thresholds]


if __name__ == "__main__":
    raise SystemExit(main())
