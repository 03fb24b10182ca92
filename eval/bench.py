"""newsrag benchmark: build, incremental rebuild, retrieval, ask, cold start, import, memory.

    .venv/bin/python eval/bench.py [--bbc ../shared/data/bbc] [--out bench.json] [--questions 30]

Prints a table and one JSON object (with CPU model, core count and package
versions). Every number is measured on the machine it runs on; heavy parts
run in their own process so peak RSS and cold start are honest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else None


def run_json(code: str, *args: str, env=None) -> dict:
    """Run python code in a fresh process; it prints one JSON object last."""
    out = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


BUILD = """
import json, resource, sys, time
from pathlib import Path
from rag.settings import Settings
from rag.embedding import make_embedder
from rag.indexing import build_index
s = Settings(corpus=Path(sys.argv[1]), index=Path(sys.argv[2]))
emb = make_embedder(s); emb.load()
t = time.perf_counter()
r = build_index(s, emb, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t, "embed_seconds": r.embed_seconds, "docs": r.n_docs,
                  "chunks": r.n_chunks, "sentences": r.n_sentences, "embedded": r.embedded,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CEILING = """
import json, sys, time
from rag.settings import Settings
from rag.store import IndexStore, sentence_rows
from sentence_transformers import SentenceTransformer
s = Settings()
texts = sentence_rows(IndexStore.load(sys.argv[1], with_bm25=False).chunks)[0]
model = SentenceTransformer(s.embed_model, device="cpu")
t = time.perf_counter()
model.encode(texts, batch_size=s.embed_batch_size, normalize_embeddings=True)
print(json.dumps({"seconds": time.perf_counter() - t, "texts": len(texts)}))
"""

# a quarter of the same sentences (every 4th) through each embedding backend (loaded and exported first, not timed)
BACKEND_ENCODE = """
import json, sys, time
from rag.settings import Settings
from rag.store import IndexStore, sentence_rows
from rag.embedding import make_embedder
s = Settings(embed_backend=sys.argv[2])
texts = sentence_rows(IndexStore.load(sys.argv[1], with_bm25=False).chunks)[0][::4]  # every 4th sentence
emb = make_embedder(s); emb.encode_documents(texts[:2])
t = time.perf_counter()
emb.encode_documents(texts)
print(json.dumps({"seconds": time.perf_counter() - t, "texts": len(texts)}))
"""

RETRIEVAL = """
import json, sys, time
from rag.settings import Settings
from rag.embedding import make_embedder
from rag.retrieval import Retriever
from rag.store import IndexStore
s = Settings(); emb = make_embedder(s)
store = IndexStore.load(sys.argv[1])
qs = json.loads(open(sys.argv[2]).read())
out = {}
for mode in ("dense", "bm25", "hybrid"):
    r = Retriever.from_settings(store, emb, s, mode)
    r.search(qs[0], 5)
    ts = []
    for q in qs:
        t = time.perf_counter(); r.search(q, s.top_k); ts.append(time.perf_counter() - t)
    ts.sort()
    out[mode] = {"p50_ms": 1000 * ts[len(ts) // 2], "p95_ms": 1000 * ts[int(0.95 * (len(ts) - 1))]}
print(json.dumps(out))
"""

ASK = """
import json, sys, time, psutil
from rag.settings import Settings
from rag.answer import Pipeline
s = Settings(index=sys.argv[1])
pipe = Pipeline.from_settings(s)
qs = json.loads(open(sys.argv[2]).read())
pipe.ask(qs[0])  # warm-up: models load once per server
total, ttft = [], []
for i in range(50):
    a = pipe.ask(qs[i % len(qs)])
    total.append(a.timings_s["total"])
    if not a.abstained:
        ttft.append(a.timings_s["first_token"])
total.sort(); ttft.sort()
print(json.dumps({"p50_s": total[len(total) // 2], "p95_s": total[int(0.95 * (len(total) - 1))],
                  "ttft_p50_s": ttft[len(ttft) // 2] if ttft else None, "questions": len(total),
                  "rss_after_50_mb": psutil.Process().memory_info().rss / 2**20}))
"""

GROWTH = """
import json, sys, time
import numpy as np, faiss
from rag.store import IndexStore, build_faiss
base = IndexStore.load(sys.argv[1], with_bm25=False).vectors
rng = np.random.default_rng(0)
qidx = rng.choice(len(base), 200, replace=False)
out = {}
for mult in (1, 2, 4):
    # copies of the corpus with changed ids: each copy's vectors slightly perturbed, then renormalized
    vecs = np.concatenate([base] + [base + rng.normal(0, 0.02, base.shape).astype(np.float32) for _ in range(mult - 1)])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    q = vecs[qidx] + rng.normal(0, 0.05, (len(qidx), vecs.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    row = {"vectors": len(vecs)}
    for factory in ("Flat", "HNSW32,Flat"):
        t = time.perf_counter(); index = build_faiss(vecs, factory); build = time.perf_counter() - t
        if factory.startswith("HNSW"):
            index.hnsw.efSearch = 64
        ts = []
        ids_all = []
        for v in q:
            t = time.perf_counter(); _, ids = index.search(v[None], 10); ts.append(time.perf_counter() - t)
            ids_all.append(ids[0])
        ts.sort()
        row[factory] = {"build_s": build, "p50_ms": 1000 * ts[len(ts) // 2], "ids": [list(map(int, i)) for i in ids_all]}
    flat, hnsw = row["Flat"].pop("ids"), row["HNSW32,Flat"].pop("ids")
    row["hnsw_recall@10"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(flat, hnsw)]))
    out[str(mult)] = row
print(json.dumps(out))
"""


def machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    pkgs = {p: version(p) for p in ("newsrag", "torch", "sentence-transformers", "faiss-cpu", "bm25s",
                                    "llama-cpp-python", "gradio", "numpy", "onnxruntime")}
    from rag.settings import Settings

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "packages": pkgs,
            "embed_backend": Settings().embed_backend}


def timed(cmd: list[str], env=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return time.perf_counter() - t


def serve_first_answers(index: Path) -> dict:
    """`rag serve` from start to ready, then its first and second answers over the API (a user's wait)."""
    from gradio_client import Client

    from ui.screenshot import running_server

    t0 = time.perf_counter()
    with running_server(index) as url:
        out = {"ready_s": time.perf_counter() - t0}
        client = Client(url, verbose=False)
        for key, q in (("first_s", "How many prisoners were swapped?"), ("second_s", "Who is the Kremlin spokesman?")):
            t = time.perf_counter()
            client.predict(q, api_name="/ask")
            out[key] = time.perf_counter() - t
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbc", type=Path, default=ROOT.parent / "shared" / "data" / "bbc")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--skip-build", action="store_true", help="reuse --work's index (no build or ceiling)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "newsrag-bench")
    args = ap.parse_args()
    res = {"machine": machine()}
    work = args.work
    corpus, index = work / "corpus", work / "index"
    if not args.skip_build:
        shutil.rmtree(work, ignore_errors=True)
        corpus.mkdir(parents=True)
        for d in sorted(p for p in args.bbc.iterdir() if p.is_dir()):
            (corpus / d.name).symlink_to(d.resolve())
        (corpus / "extra").mkdir()
        shutil.copy(ROOT / "seeds" / "000_aa0e348396f8f4a1.txt", corpus / "extra" / "seed.txt")
        print("building the BBC index ...", flush=True)
        res["build"] = run_json(BUILD, str(corpus), str(index))
        res["build"]["articles_per_s"] = res["build"]["docs"] / res["build"]["seconds"]
        res["build"]["chunks_per_s"] = res["build"]["chunks"] / res["build"]["seconds"]
        res["build"]["sentences_per_s"] = res["build"]["sentences"] / res["build"]["seconds"]
        print("plain sentence-transformers encode of the same sentences ...", flush=True)
        ceil = run_json(CEILING, str(index))
        res["ceiling"] = {**ceil, "texts_per_s": ceil["texts"] / ceil["seconds"]}
        res["build"]["ratio_to_ceiling"] = res["build"]["sentences_per_s"] / res["ceiling"]["texts_per_s"]
        res["encode_by_backend"] = {}
        for backend in ("torch", "onnx", "onnx-int8"):
            print(f"encode the same sentences with backend {backend} ...", flush=True)
            e = run_json(BACKEND_ENCODE, str(index), backend)
            res["encode_by_backend"][backend] = {**e, "texts_per_s": e["texts"] / e["seconds"]}
    rb = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index), "--quiet"]
    res["noop_rebuild_s"] = timed(rb)
    with open(corpus / "extra" / "seed.txt", "a") as f:
        f.write(f"\nA late update was added at {time.time()}.\n")
    res["one_article_rebuild_s"] = timed(rb)

    qfile = work / "questions.json"
    gold = [json.loads(l)["question"] for l in open(ROOT / "eval" / "xquad" / "gold.jsonl")]
    random.Random(0).shuffle(gold)
    seed_qs = [json.loads(l)["question"] for l in open(ROOT / "eval" / "seed_gold.jsonl")]
    qfile.write_text(json.dumps(seed_qs + gold[:200]))
    print("retrieval latency ...", flush=True)
    res["retrieval"] = run_json(RETRIEVAL, str(index), str(qfile))
    (work / "seed_questions.json").write_text(json.dumps(seed_qs))
    print("ask latency and serving memory (50 questions) ...", flush=True)
    res["ask"] = run_json(ASK, str(index), str(work / "seed_questions.json"))
    print("cold start and import time ...", flush=True)
    res["cold_start_ask_s"] = min(timed([sys.executable, "-m", "rag", "ask", "How many prisoners were swapped?",
                                         "--index", str(index), "--quiet"]) for _ in range(2))
    print("chat server start and its first answers ...", flush=True)
    res["serve"] = serve_first_answers(index)
    res["import_rag_s"] = min(run_json("import json, time; t = time.perf_counter(); import rag.cli, rag.answer; "
                                       "print(json.dumps({'s': time.perf_counter() - t}))")["s"] for _ in range(3))
    print("growth: 1x, 2x, 4x the corpus's sentence vectors, Flat vs HNSW ...", flush=True)
    res["growth"] = run_json(GROWTH, str(index))

    m = res["machine"]
    print(f"\nnewsrag benchmark on {m['cpu']} ({m['cores']} cores), Python {m['python']}, embedding backend {m['embed_backend']}")
    rows = []
    if "build" in res:
        b, c = res["build"], res["ceiling"]
        rows += [("build BBC", f"{b['docs']} articles, {b['chunks']} chunks, {b['sentences']} sentences in "
                  f"{b['seconds']:.1f} s; {b['articles_per_s']:.1f} articles/s, {b['sentences_per_s']:.1f} sentences/s; "
                  f"peak RSS {b['peak_rss_mb']:.0f} MB"),
                 ("plain encode ceiling", f"{c['texts_per_s']:.1f} sentences/s ({c['seconds']:.1f} s); "
                  f"build/ceiling = {b['ratio_to_ceiling']:.2f}")]
        for backend, e in res.get("encode_by_backend", {}).items():
            rows.append((f"encode, backend {backend}", f"{e['texts_per_s']:.1f} sentences/s ({e['seconds']:.1f} s)"))
    rows += [("no-op rebuild (CLI, wall)", f"{res['noop_rebuild_s']:.2f} s"),
             ("one-article change (CLI, wall)", f"{res['one_article_rebuild_s']:.2f} s")]
    for mode, v in res["retrieval"].items():
        rows.append((f"retrieval {mode}", f"p50 {v['p50_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms"))
    a = res["ask"]
    rows += [("ask end-to-end", f"p50 {a['p50_s']:.2f} s, p95 {a['p95_s']:.2f} s, first token p50 "
              f"{a['ttft_p50_s'] if a['ttft_p50_s'] is None else round(a['ttft_p50_s'], 2)} s"),
             ("serving RSS after 50 questions", f"{a['rss_after_50_mb']:.0f} MB"),
             ("cold start `rag ask`", f"{res['cold_start_ask_s']:.2f} s"),
             ("`rag serve` ready, then 1st / 2nd answer", f"{res['serve']['ready_s']:.2f} s, then "
              f"{res['serve']['first_s']:.2f} / {res['serve']['second_s']:.2f} s"),
             ("import rag", f"{res['import_rag_s'] * 1000:.0f} ms")]
    for mult, g in res["growth"].items():
        rows.append((f"search {mult}x ({g['vectors']} sentence vectors)",
                     f"Flat p50 {g['Flat']['p50_ms']:.2f} ms; HNSW32 p50 {g['HNSW32,Flat']['p50_ms']:.2f} ms, "
                     f"recall@10 {g['hnsw_recall@10']:.3f}"))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    text = json.dumps(res, indent=1)
    if args.out:
        args.out.write_text(text)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
