"""XQuAD with half of each article's paragraphs held out: unanswerable questions about the right article.

The hardest questions to refuse are not "What is the capital of France?" but a detail of the very
story the articles tell, which they happen not to state: the names and the topic all match, and a
span of the asked-for type stands close by. This script makes hundreds of them from XQuAD, the way
SQuAD 2.0's authors made theirs unanswerable by construction rather than by hand:

- each article keeps a random half of its paragraphs (at least one) in ``OUT/corpus/``;
- a question about a kept paragraph stays answerable, as in ``eval/xquad/gold.jsonl``;
- a question about a held-out paragraph becomes unanswerable (``answers: []``), unless one of its
  answers still occurs anywhere in the kept corpus (Wikipedia repeats itself), in which case it is
  dropped: the remaining questions' articles are there, their paragraphs are not.

Run it and evaluate::

    python eval/xquad_split.py --out /tmp/xquad-split
    rag eval --gold /tmp/xquad-split/gold.jsonl --corpus /tmp/xquad-split/corpus --limit 300 --seed 0

Nothing here loads a model; the output is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import typer

HERE = Path(__file__).resolve().parent


def split_corpus(corpus: Path, gold: Path, out: Path, seed: int = 0) -> dict[str, int]:
    """Write ``out/corpus/*.txt`` and ``out/gold.jsonl``; return the counts of what was written."""
    rng = random.Random(seed)
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    kept_paragraphs: dict[str, list[str]] = {}
    held_paragraphs: dict[str, list[str]] = {}
    for path in sorted(corpus.glob("*.txt")):
        title, *paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        order = list(range(len(paragraphs)))
        rng.shuffle(order)
        keep = set(order[:max(1, len(paragraphs) // 2)])
        kept_paragraphs[path.name] = [p for i, p in enumerate(paragraphs) if i in keep]
        held_paragraphs[path.name] = [p for i, p in enumerate(paragraphs) if i not in keep]
        (out / "corpus" / path.name).write_text("\n\n".join([title, *kept_paragraphs[path.name]]) + "\n",
                                                encoding="utf-8")
    kept_text = " ".join(" ".join(ps) for ps in kept_paragraphs.values()).lower()
    counts = {"answerable": 0, "unanswerable": 0, "dropped": 0}
    lines = []
    for raw in gold.read_text(encoding="utf-8").splitlines():
        item = json.loads(raw)
        norm = " ".join(item["evidence"].split())
        if any(norm in " ".join(p.split()) for p in kept_paragraphs[item["doc"]]):
            counts["answerable"] += 1
            lines.append(item)
        elif any(a.lower() in kept_text for a in item["answers"]):
            counts["dropped"] += 1  # the answer is still somewhere in what was kept: not surely unanswerable
        else:
            counts["unanswerable"] += 1
            lines.append({**item, "id": f"{item['id']}-heldout", "answers": [], "doc": None, "evidence": None,
                          "answerable": False})
    (out / "gold.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return counts


def main(out: Path = typer.Option(..., help="Folder to write corpus/ and gold.jsonl into."),
         seed: int = typer.Option(0, help="Seed of the paragraph split."),
         corpus: Path = typer.Option(HERE / "xquad" / "corpus", help="XQuAD articles, one per file."),
         gold: Path = typer.Option(HERE / "xquad" / "gold.jsonl", help="XQuAD questions in the gold format.")):
    counts = split_corpus(corpus, gold, out, seed)
    print(f"{out}/gold.jsonl: {counts['answerable']} answerable, {counts['unanswerable']} unanswerable "
          f"(held-out paragraph), {counts['dropped']} dropped (answer also in a kept paragraph)", file=sys.stderr)


if __name__ == "__main__":
    typer.run(main)
