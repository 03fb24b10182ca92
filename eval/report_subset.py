"""The metrics of a ``rag eval`` report restricted to the questions nobody tuned on.

    .venv/bin/rag eval --gold eval/xquad/gold.jsonl --corpus eval/xquad/corpus --out all.json
    .venv/bin/python eval/report_subset.py all.json --exclude 150:0 --exclude 300:1 --exclude-training

``--exclude LIMIT:SEED`` drops the questions of ``rag eval --limit LIMIT --seed SEED`` (repeatable), ``--only
LIMIT:SEED`` keeps just those (the README's sample 0 and held-out columns: ``--only 150:0``, ``--only 300:1``);
``--exclude-training`` drops the questions the span ranker was trained on, drawn again exactly as
``eval/train_span_ranker.py`` drew them (its settings are stored in ``rag/span_ranker.json``). The
metrics are computed by the same code as the report's (``rag.metrics.summarize``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.gold import read_gold, sample_gold  # noqa: E402
from rag.metrics import ItemResult, summarize  # noqa: E402
from rag.spans import WEIGHTS  # noqa: E402


def training_ids(items, trained_on: dict) -> set[str]:
    held = shlex.split(trained_on["heldout"])  # "--limit 300 --seed 1"
    limit, seed = int(held[held.index("--limit") + 1]), int(held[held.index("--seed") + 1])
    heldout = {g.id for g in sample_gold(items, limit, seed)}
    pool = [g for g in items if g.answerable and g.id not in heldout]
    return {g.id for g in sample_gold(pool, trained_on["drawn"], trained_on["seed"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--gold", type=Path, default=ROOT / "eval/xquad/gold.jsonl")
    ap.add_argument("--exclude", action="append", default=[], metavar="LIMIT:SEED")
    ap.add_argument("--exclude-training", action="store_true")
    ap.add_argument("--only", metavar="LIMIT:SEED", help="keep only the questions of this sample")
    args = ap.parse_args(argv)

    items = read_gold(args.gold)
    drop: set[str] = set()
    for spec in args.exclude:
        limit, seed = (int(x) for x in spec.split(":"))
        drop |= {g.id for g in sample_gold(items, limit, seed)}
    if args.only:
        limit, seed = (int(x) for x in args.only.split(":"))
        keep = {g.id for g in sample_gold(items, limit, seed)}
        drop |= {g.id for g in items if g.id not in keep}
    if args.exclude_training:
        drop |= training_ids(items, json.loads(WEIGHTS.read_text(encoding="utf-8"))["trained_on"])
    names = {f.name for f in dataclasses.fields(ItemResult)}
    report = json.loads(args.report.read_text(encoding="utf-8"))
    kept = [ItemResult(**{k: v for k, v in it.items() if k in names}) for it in report["items"] if it["id"] not in drop]
    print(json.dumps({"kept": len(kept), "dropped": len(report["items"]) - len(kept), **summarize(kept)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
