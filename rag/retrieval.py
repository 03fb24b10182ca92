"""Hybrid retrieval: dense (FAISS) + BM25, fused by reciprocal-rank fusion.

The dense side searches sentence vectors and ranks a chunk by its best sentence (see ``rag.store``).

``Retriever.search`` returns typed ``Hit`` records, best first. Each hit
keeps the dense cosine and the BM25 score it came with, so the answer stage
can decide on evidence whether anything matches at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.chunking import Chunk

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float          # the fused score used for ranking (RRF in hybrid mode)
    dense: float | None   # cosine similarity of its best sentence, when the dense retriever returned it
    bm25: float | None
    rank: int             # 1-based

    def to_dict(self) -> dict:
        c = self.chunk
        return {"rank": self.rank, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title,
                "start": c.start, "end": c.end, "text": c.text, "score": round(self.score, 6),
                "dense": None if self.dense is None else round(self.dense, 6),
                "bm25": None if self.bm25 is None else round(self.bm25, 6)}


def fuse_rankings(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: score(d) = Σ 1 / (k + rank_i(d)), best first; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


class Retriever:
    def __init__(self, store, embedder, mode: Mode = "hybrid", rrf_k: int = 60, candidates: int = 50):
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.query_vector = None  # the last query's embedding, for scoring its sentences without embedding it again

    def search(self, query: str, top_k: int = 5, mode: Mode | None = None) -> list[Hit]:
        mode = mode or self.mode
        n = max(self.candidates, top_k)
        dense = bm25 = []
        if mode in ("hybrid", "dense"):
            qvec = self.query_vector = self.embedder.encode_queries([query])[0]
            dense = self.store.dense_search(qvec, n)
        if mode in ("hybrid", "bm25"):
            bm25 = self.store.bm25_search(query, n)
        dense_score, bm25_score = dict(dense), dict(bm25)
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = bm25
        else:
            ranked = fuse_rankings([[i for i, _ in dense], [i for i, _ in bm25]], self.rrf_k)
        hits = []
        for rank, (pos, score) in enumerate(ranked[:top_k], 1):
            hits.append(Hit(self.store.chunks[pos], score, dense_score.get(pos), bm25_score.get(pos), rank))
        return hits
