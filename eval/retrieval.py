"""Retrieval quality alone (no LLM): chunk-level hit@1, hit@5, MRR@10 for dense, BM25 and hybrid (RRF and cc).

    python eval/retrieval.py --gold eval/xquad/gold.jsonl --corpus eval/xquad/corpus --index /tmp/xquad-index

Builds (or reuses, by manifest) an index of the corpus, asks every gold
question of each retriever, and prints one row per mode plus a JSON line.
A chunk is relevant when it covers at least half of the gold evidence.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

from rag.embedding import make_embedder
from rag.evaluate import indexed_copies
from rag.gold import check_gold_against_corpus, read_gold
from rag.indexing import build_index
from rag.metrics import chunk_relevant, reciprocal_rank
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import IndexStore, expected_manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--modes", default="dense,bm25,hybrid,cc", help="hybrid = rank fusion (RRF), cc = score fusion")
    args = ap.parse_args()

    s = Settings(corpus=args.corpus, index=args.index)
    emb = make_embedder(s)
    build_index(s, emb, progress=True)
    store = IndexStore.load(s.index, expect=expected_manifest(s, emb.model_id))
    gold = [g for g in read_gold(args.gold) if g.answerable]
    spans, problems = check_gold_against_corpus(gold, args.corpus)
    gold = [g for g in gold if g.id in spans]
    copies = indexed_copies(gold, args.corpus, store.manifest.get("documents", {}))  # a copy the index skipped
    gold = [dataclasses.replace(g, doc=copies[g.doc]) if g.doc in copies else g for g in gold]
    results = {}
    for mode in args.modes.split(","):
        # "hybrid" fuses ranks (RAG_FUSION=rrf), "cc" scores (the default), whatever the environment sets
        fusion = {"hybrid": "rrf", "cc": "cc"}.get(mode, s.fusion)
        r = Retriever.from_settings(store, emb, s.model_copy(update={"fusion": fusion}),
                                    "hybrid" if mode == "cc" else mode)
        h1 = h5 = mrr = 0.0
        t0 = time.perf_counter()
        for g in gold:
            hits = r.search(g.question, 10)
            rel = [chunk_relevant(h.chunk.doc_id, h.chunk.start, h.chunk.end, g, spans[g.id]) for h in hits]
            h1 += any(rel[:1])
            h5 += any(rel[:5])
            mrr += reciprocal_rank(rel, 10)
        n = len(gold)
        results[mode] = {"hit@1": round(h1 / n, 4), "hit@5": round(h5 / n, 4), "mrr@10": round(mrr / n, 4),
                         "ms_per_query": round(1000 * (time.perf_counter() - t0) / n, 1)}
    print(f"{len(gold)} questions, {len(store)} chunks, {s.chunk_tokens}-token chunks, "
          f"{platform.processor() or platform.machine()}")
    print(f"{'mode':8} {'hit@1':>7} {'hit@5':>7} {'mrr@10':>7} {'ms/q':>6}")
    for mode, m in results.items():
        print(f"{mode:8} {m['hit@1']:7.3f} {m['hit@5']:7.3f} {m['mrr@10']:7.3f} {m['ms_per_query']:6.1f}")
    print(json.dumps({"n": len(gold), "chunks": len(store), "results": results}))


if __name__ == "__main__":
    main()
