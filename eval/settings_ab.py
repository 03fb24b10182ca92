"""Latency A/B of two values of one setting, each question answered under both in one process.

Each question is asked under both values, alternating which goes first, so that the hour's speed (this VM's
varies by ~20%) weighs on both alike. Prints p50 of the answer's total time and its first token
under each value, and the paired median difference. The answers themselves are measured with ``rag eval``.

    .venv/bin/python eval/settings_ab.py draft_passages 3 2 [--n 60] [--index DIR]
    .venv/bin/python eval/settings_ab.py llm_eight_bit false true     # the LLM's Q4_1 file against its Q8_0 copy

Each value gets its own pipeline (models, caches), made from its settings: a setting read when the models are
made (``llm_path``, ``llm_eight_bit``, ``llm_temperature``, ``scorer_path``, …) takes effect as surely as one
read on each answer.

The questions: XQuAD's, shuffled with a fixed seed; the index: ``rag eval``'s cached one of its corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("setting", help="a Settings field, e.g. draft_passages")
    ap.add_argument("a", help="its first value (A)")
    ap.add_argument("b", help="its second value (B)")
    ap.add_argument("--n", type=int, default=60, help="questions (default 60)")
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/xquad/gold.jsonl")
    ap.add_argument("--corpus", type=Path, default=ROOT / "eval/xquad/corpus")
    ap.add_argument("--index", type=Path, default=None, help="index of --corpus (default: rag eval's cached one)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from bench import machine
    from rag.answer import Pipeline
    from rag.evaluate import cache_dir_for
    from rag.settings import Settings

    base = Settings()
    if args.setting not in Settings.model_fields:
        raise SystemExit(f"no setting {args.setting!r}")
    variants = {v: Settings.model_validate({**base.model_dump(), args.setting: v}) for v in (args.a, args.b)}
    index = args.index or cache_dir_for(args.corpus.resolve())
    if not (index / "CURRENT").exists():
        raise SystemExit(f"no index in {index}: run rag eval --gold {args.gold} --corpus {args.corpus} once")
    questions = [json.loads(line)["question"] for line in args.gold.open() if line.strip()]
    random.Random(args.seed).shuffle(questions)
    questions = questions[:args.n]

    pipes = {v: Pipeline.from_settings(variants[v], index) for v in variants}
    for pipe in pipes.values():
        pipe.warm_up()
        pipe.ask(questions[0])
    total = {v: [] for v in variants}
    first = {v: [] for v in variants}
    for i, q in enumerate(questions):
        for v in (args.a, args.b) if i % 2 == 0 else (args.b, args.a):
            t = pipes[v].ask(q).timings_s
            total[v].append(t["total"])
            if t["first_token"] > 0:
                first[v].append(t["first_token"])
    m = machine()
    print(f"{m['cpu']}, {m['cores']} cores; {len(questions)} questions, each under both values of {args.setting}")
    for v in (args.a, args.b):
        print(f"  {args.setting}={v}: answer p50 {statistics.median(total[v]):.3f} s, "
              f"first token p50 {statistics.median(first[v]) if first[v] else 0:.3f} s")
    diff = [b - a for a, b in zip(total[args.a], total[args.b])]
    print(f"  paired difference B - A: median {statistics.median(diff):+.3f} s, mean {statistics.mean(diff):+.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
