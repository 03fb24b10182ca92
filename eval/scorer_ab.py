"""Latency of the answer scorer: the same questions answered with and without it, alternating, in one process.

    .venv/bin/python eval/scorer_ab.py INDEX N GOLD
    .venv/bin/python eval/scorer_ab.py ~/.cache/newsrag/eval-corpus-<hash> 60 eval/xquad/gold.jsonl

Two pipelines share the index, the embedder and the LLM; one has the bundled answer scorer (Gemma 3 270M),
the other lets the LLM score the spans (``RAG_SCORER_PATH=none``). Each question is asked of both, in turn
(which goes first alternates), so both see the same hour of this machine. Prints p50 and mean of each and
the median of the per-question differences.
"""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answer import Pipeline  # noqa: E402
from rag.gold import read_gold  # noqa: E402
from rag.llm import make_scorer  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main(index: str, n: int, gold: str) -> None:
    idx = Path(index).expanduser()
    off = Pipeline.from_settings(Settings(scorer_path="none"), idx)
    off.warm_up()
    scorer = make_scorer(Settings(scorer_path="bundled"))
    scorer.load()
    on = Pipeline(off.settings, off.store, off.embedder, off.generator, idx, scorer=scorer)
    questions = [g.question for g in read_gold(gold)]
    random.Random(7).shuffle(questions)
    t_off, t_on = [], []
    for i, q in enumerate(questions[:n]):
        for pipe, times in ((off, t_off), (on, t_on)) if i % 2 == 0 else ((on, t_on), (off, t_off)):
            t0 = time.perf_counter()
            pipe.ask(q)
            times.append(time.perf_counter() - t0)
    print(f"{len(t_off)} questions · scorer off p50 {statistics.median(t_off):.3f} s mean {statistics.mean(t_off):.3f} s"
          f" · on p50 {statistics.median(t_on):.3f} s mean {statistics.mean(t_on):.3f} s"
          f" · paired median difference {statistics.median(b - a for a, b in zip(t_off, t_on)):+.3f} s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
