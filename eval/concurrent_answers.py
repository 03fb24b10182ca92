"""Does an answer depend on who else is asking? Ask each question alone, then all of them again from
several threads at once (one shared pipeline, as `rag serve` has), and count the answers that differ.

    .venv/bin/python eval/concurrent_answers.py                       # seed questions, index/, 4 threads
    .venv/bin/python eval/concurrent_answers.py --repeat 6 --seed 1   # another interleaving

Prints the mismatches (answer and draft, under load and alone) and their count; exit code 1 if any.
"""

from __future__ import annotations

import argparse
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer import Pipeline  # noqa: E402
from rag.gold import read_gold  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/seed_gold.jsonl")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=4, help="times each question is asked under load")
    ap.add_argument("--seed", type=int, default=0, help="shuffles the order of the questions under load")
    args = ap.parse_args(argv)

    pipe = Pipeline.from_settings(Settings(index=args.index))
    questions = [g.question for g in read_gold(args.gold)]
    alone = {q: pipe.ask(q) for q in questions}
    jobs = questions * args.repeat
    random.Random(args.seed).shuffle(jobs)
    with ThreadPoolExecutor(args.threads) as pool:
        loaded = list(pool.map(lambda q: (q, pipe.ask(q)), jobs))
    bad = [(q, a) for q, a in loaded if (a.answer, a.draft) != (alone[q].answer, alone[q].draft)]
    for q, a in bad:
        print(f"{q}\n  under load: {a.answer!r} (draft {a.draft[:80]!r})\n"
              f"  alone:      {alone[q].answer!r} (draft {alone[q].draft[:80]!r})")
    print(f"{len(bad)} of {len(loaded)} answers under load ({args.threads} threads) differ from the same "
          f"question asked alone")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
