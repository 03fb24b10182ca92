"""A/B of the answer scorer's decoding: one decode per candidate (as up to commit 93f825f) against all of a
question's shortlisted candidates side by side in one batch (``LikelihoodScorer._scores``, after
``_read_prompt``).

Same process, same inputs, alternating which goes first; the inputs are the span ranker's collected training
rows (``eval/train_span_ranker.py --rows``): each question's two best sentences and its first 8 candidates.

    .venv/bin/python eval/scorer_batch_ab.py ROWS.json [N]      # N questions (default 60), ~2 min
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OLD = "93f825f"  # the last commit whose scorer decoded one candidate at a time


def old_module():
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD}:rag/llm.py"], capture_output=True, text=True,
                         check=True).stdout
    path = Path(tempfile.mkdtemp()) / "llm_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("llm_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rows = json.loads(Path(argv[0]).read_text())[:int(argv[1]) if len(argv) > 1 else 60]
    from rag import llm
    from rag.settings import resolve_scorer_path

    path = resolve_scorer_path("bundled")
    one, batched = old_module().LikelihoodScorer(path), llm.LikelihoodScorer(path)
    times = {one: [], batched: []}
    for k, (q, _, cands) in enumerate(rows):
        sentences = [t for _, t in sorted({(c[1]["ev_rank"], c[2]) for c in cands})][:2]
        short = [c[0] for c in cands][:8]
        for scorer in (one, batched) if k % 2 == 0 else (batched, one):
            t = time.perf_counter()
            scorer.score(sentences, q, short)
            times[scorer].append(time.perf_counter() - t)
    a, b = times[one], times[batched]
    print(f"{len(a)} questions, up to 8 candidates each: one decode per candidate p50 {statistics.median(a) * 1000:.0f} ms, "
          f"side by side p50 {statistics.median(b) * 1000:.0f} ms; paired median saving "
          f"{statistics.median(x - y for x, y in zip(a, b)) * 1000:.0f} ms per answer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
