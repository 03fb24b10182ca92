"""Latency of two span-ranker weight files: the same questions answered with each, alternating, in one process.

    .venv/bin/python eval/ranker_ab.py INDEX N OLD.json [NEW.json] [GOLD]
    git show HEAD~1:rag/span_ranker_scorer.json > /tmp/old.json
    .venv/bin/python eval/ranker_ab.py ~/.cache/newsrag/eval-corpus-<hash> 100 /tmp/old.json

One pipeline (the default settings, the answer scorer included) answers each question twice, once with each
ranker (``NEW`` defaults to the shipped ``rag/span_ranker_scorer.json``), which goes first alternating, so
both see the same hour of this machine: weights that shortlist longer spans, or abstain at another point,
show here. Prints p50 and mean of each, the median of the per-question differences, and how many tokens the
scorer read for the shortlist on average.
"""

import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer import Pipeline  # noqa: E402
from rag.gold import read_gold  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.spans import SCORER_WEIGHTS, SpanRanker  # noqa: E402


def main(index: str, n: int, old: str, new: str = str(SCORER_WEIGHTS),
         gold: str = str(ROOT / "eval/xquad/gold.jsonl")) -> None:
    pipe = Pipeline.from_settings(Settings(), Path(index).expanduser())
    pipe.warm_up()
    rankers = {name: SpanRanker(json.loads(Path(p).read_text(encoding="utf-8"))) for name, p in (("old", old), ("new", new))}
    questions = [g.question for g in read_gold(Path(gold))]
    random.Random(7).shuffle(questions)
    times: dict[str, list[float]] = {"old": [], "new": []}
    tokens: dict[str, list[float]] = {"old": [], "new": []}
    for i, q in enumerate(questions[:n]):
        for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
            pipe.ranker = rankers[name]
            t0 = time.perf_counter()
            a = pipe.ask(q)
            times[name].append(time.perf_counter() - t0)
            tokens[name].append(sum(c.features.get("n_tokens", 0) for c in a.spans or []))
    d = [b - a for a, b in zip(times["old"], times["new"])]
    print(f"{len(d)} questions · old p50 {statistics.median(times['old']):.3f} s mean {statistics.mean(times['old']):.3f} s"
          f" · new p50 {statistics.median(times['new']):.3f} s mean {statistics.mean(times['new']):.3f} s"
          f" · paired median {statistics.median(d):+.3f} s, mean {statistics.mean(d):+.3f} s")
    print(f"shortlist tokens the scorer read, mean: old {statistics.mean(tokens['old']):.1f}, "
          f"new {statistics.mean(tokens['new']):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
