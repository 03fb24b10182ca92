"""Choose the abstention thresholds from data, not by feel.

Answerable questions: a gold set asked of the index of its own corpus.
Unanswerable questions: the same questions asked of an index of *other*
articles (they cannot be answered there), plus the unanswerable items of any
gold file given. For each (min_relevance, min_coverage) pair, print the
share of answerable questions wrongly refused and of unanswerable ones
rightly refused, so the settings' defaults can be set where both are good.

    python eval/calibrate_abstention.py --gold eval/xquad/gold.jsonl --index /tmp/xq-index \\
        --other-index /tmp/seedbbc-index --extra eval/seed_gold.jsonl --limit 300
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rag.answer import gather_evidence
from rag.answer import PARAPHRASE_COSINE, WORDING_COVERAGE
from rag.citations import name_runs, names_missing, numbers_missing
from rag.embedding import make_embedder
from rag.gold import read_gold
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import IndexStore
from rag.text import question_stems


def features(store, emb, s, question):
    hits = Retriever.from_settings(store, emb, s).search(question, s.top_k)
    ev = gather_evidence(hits, question_stems(question), emb, question, store=store)
    if not ev:
        return 0.0, 0.0, True, True
    best = ev[0]
    everything = "\n".join(h.chunk.title + "\n" + h.chunk.text for h in hits)
    # the names and numbers the question asks about, looked for as the pipeline's evidence gate does
    def missing(text):
        return bool(names_missing(name_runs(question), text) or numbers_missing(question, text))

    return best.cosine, best.coverage, missing(best.context + "\n" + best.title), missing(everything)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--other-index", type=Path, required=True)
    ap.add_argument("--extra", type=Path, action="append", default=[])
    ap.add_argument("--extra-index", type=Path, default=None, help="index for the --extra gold files")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    s = Settings()
    emb = make_embedder(s)
    gold = [g for g in read_gold(args.gold) if g.answerable]
    random.Random(args.seed).shuffle(gold)
    gold = gold[: args.limit]
    own, other = IndexStore.load(args.index), IndexStore.load(args.other_index)
    pos = [features(own, emb, s, g.question) for g in gold]
    neg = [features(other, emb, s, g.question) for g in gold]
    extra_pos, extra_neg = [], []
    for path in args.extra:
        store = IndexStore.load(args.extra_index or args.other_index)
        for g in read_gold(path):
            (extra_pos if g.answerable else extra_neg).append(features(store, emb, s, g.question))
    print(f"{len(pos)} answerable, {len(neg)} unanswerable (other index), extra {len(extra_pos)}/{len(extra_neg)}")
    print(f"{'min_rel':>7} {'min_cov':>7} {'false_abstain':>13} {'abstain_acc':>11} {'extra_fa':>8} {'extra_acc':>9}")

    def refuse(f, r, c, names):  # as rag.answer: a close paraphrase passes the coverage bar, most words the cosine bar
        return ((f[0] < r and f[1] < WORDING_COVERAGE) or (f[1] < c and f[0] < PARAPHRASE_COSINE)
                or (names == "best" and f[2]) or (names == "any" and f[3]))

    for names in ("off", "best", "any"):
      print("names check:", names)
      for r in (0.25, 0.3, 0.35, 0.4, 0.45):
        for c in (0.0, 0.3, 0.4, 0.5, 0.6):
            fa = sum(refuse(f, r, c, names) for f in pos) / len(pos)
            acc = sum(refuse(f, r, c, names) for f in neg) / len(neg)
            efa = sum(refuse(f, r, c, names) for f in extra_pos) / max(1, len(extra_pos))
            eacc = sum(refuse(f, r, c, names) for f in extra_neg) / max(1, len(extra_neg))
            print(f"{r:7.2f} {c:7.2f} {fa:13.3f} {acc:11.3f} {efa:8.3f} {eacc:9.3f}")


if __name__ == "__main__":
    main()
