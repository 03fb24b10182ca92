"""The sentence-transformers model run by onnxruntime: same vectors, a fraction of the time.

The first use exports the configured model once (this needs torch and
sentence-transformers, which are installed anyway) to an ONNX graph that
holds the whole pipeline — transformer, pooling, normalization — and caches
it with its tokenizer under ``~/.cache/newsrag/onnx/``. Every later process
loads only ``onnxruntime`` and ``tokenizers``: no torch, no transformers, so
``rag ask`` starts seconds sooner and embeds 2–4× faster on a small CPU.

Two variants, chosen by ``RAG_EMBED_BACKEND``:

- ``onnx``: float32, vectors equal to sentence-transformers' own (cosine 1.0
  to 6 decimals), so an index built with ``torch`` stays valid;
- ``onnx-int8``: weights dynamically quantized to int8 — faster still, but its
  vectors differ slightly, so it records its own model id in the manifest
  and needs its own index (``rag index --rebuild``).

Deliberate compromise: the export traces the model with torch's TorchScript
ONNX exporter; a model whose tokenizer is not a "fast" (``tokenizers``) one
cannot be exported, and ``onnx`` then falls back to running it with torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.embedding import SentenceTransformerEmbedder, model_id_for, normalize

log = logging.getLogger(__name__)

META = "newsrag_onnx.json"


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsrag"


def export_key(name_or_path: str, quantize: bool) -> str:
    """Changes when the model files change, so a replaced model is exported again."""
    p = Path(name_or_path)
    parts = [str(p.resolve()) if p.exists() else name_or_path, "int8-per-channel" if quantize else "fp32"]
    if p.is_dir():
        for f in sorted(p.glob("*")):
            if f.is_file():
                st = f.stat()
                parts.append(f"{f.name}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def export_onnx(name_or_path: str, out_dir: Path, quantize: bool = False) -> Path:
    """Export a sentence-transformers model (whole pipeline) to ``out_dir/model.onnx``; atomic."""
    from rag.text import torch_import_lock

    with torch_import_lock():
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar would print under `rag index --quiet`
    model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
    model.train(False)  # inference mode: no dropout in the traced graph
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise RuntimeError(f"{name_or_path}: its tokenizer is not a fast tokenizer; ONNX export needs one")
    sample = tokenizer(["an example", "a second, longer example sentence"], padding=True, return_tensors="pt")
    names = list(sample.keys())

    class Pipeline(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, *inputs):
            return self.st(dict(zip(names, inputs)))["sentence_embedding"]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow, harmless here
            torch.onnx.export(
                Pipeline(model), tuple(sample[k] for k in names), str(tmp / "model.onnx"),
                input_names=names, output_names=["sentence_embedding"],
                dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in names}, "sentence_embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level  # the quantizer calls logging.basicConfig
            try:
                # per output channel: cosine to the float model 0.99 on news text, against 0.94 per tensor
                quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model.int8.onnx"),
                                 weight_type=QuantType.QInt8, per_channel=True)
            finally:
                root.handlers[:], root.level = handlers, level
            (tmp / "model.int8.onnx").replace(tmp / "model.onnx")
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        meta = {"source": name_or_path, "inputs": names, "max_seq_length": int(model.max_seq_length or 512),
                "pad_token_id": int(tokenizer.pad_token_id or 0), "pad_token": str(tokenizer.pad_token or "[PAD]"),
                "dim": int(get_dim()), "quantized": quantize}
        (tmp / META).write_text(json.dumps(meta, indent=1))
        if out_dir.exists() and not (out_dir / META).is_file():
            shutil.rmtree(out_dir, ignore_errors=True)  # a half-made folder from outside: not an export
        try:
            tmp.rename(out_dir)
        except OSError:  # another process finished the same export first: use theirs
            if not (out_dir / META).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


class OnnxEmbedder:
    """Embedder protocol over an exported ONNX graph; loads lazily, thread-safe."""

    def __init__(self, name_or_path: str, batch_size: int = 32, quantize: bool = False,
                 threads: int | None = None, cache_dir: Path | None = None):
        self.name_or_path = name_or_path
        self.quantize = quantize
        self.model_id = model_id_for(name_or_path) + ("+onnx-int8" if quantize else "")
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.export_dir = (cache_dir or cache_root() / "onnx") / (
            f"{model_id_for(name_or_path)}-{export_key(name_or_path, quantize)}")
        self._lock = threading.Lock()
        self._session = None
        self._fallback: SentenceTransformerEmbedder | None = None

    def load(self):
        with self._lock:
            if self._session is None and self._fallback is None:
                self._load()
        return self._session or self._fallback

    def _load(self):
        if not (self.export_dir / META).is_file():
            log.info("exporting %s to ONNX once (cached in %s)", self.name_or_path, self.export_dir)
            try:
                export_onnx(self.name_or_path, self.export_dir, self.quantize)
            except Exception as e:  # noqa: BLE001 - a model the exporter cannot trace
                if self.quantize:
                    raise RuntimeError(f"cannot export embedding model {self.name_or_path!r} to ONNX ({e}); "
                                       "set RAG_EMBED_BACKEND=torch and run rag index --rebuild") from e
                log.warning("ONNX export of %s failed (%s); embedding with torch instead", self.name_or_path, e)
                self._fallback = SentenceTransformerEmbedder(self.name_or_path, self.batch_size)
                self._fallback.load()
                return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self._meta = json.loads((self.export_dir / META).read_text())
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            # onnxruntime's threads spin for a while after each run; on 2 cores that steals the CPU from the
            # FAISS/numpy search that follows a query's embedding (hybrid retrieval p50 20.5 → 15.3 ms here;
            # batch throughput unchanged: 187–209 sentences/s either way)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(self.export_dir / "model.onnx"), opts,
                                           providers=["CPUExecutionProvider"])
            Tokenizer.from_file(str(self.export_dir / "tokenizer.json"))
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise RuntimeError(f"the cached ONNX export in {self.export_dir} is damaged ({e}); delete that folder "
                               "and it is exported again on the next run") from e
        self._session = session
        self._counter = Tokenizer.from_file(str(self.export_dir / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        tok = Tokenizer.from_file(str(self.export_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=self._meta["max_seq_length"])
        tok.enable_padding(pad_id=self._meta["pad_token_id"], pad_token=self._meta["pad_token"])
        self._tokenizer = tok

    @property
    def dim(self) -> int:
        backend = self.load()
        return self._fallback.dim if backend is self._fallback else int(self._meta["dim"])

    def _run(self, texts: list[str]) -> np.ndarray:
        encs = self._tokenizer.encode_batch(texts)
        feeds = {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}
        return self._session.run(None, {k: feeds[k] for k in self._meta["inputs"]})[0]

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self.load() is self._fallback:
            return self._fallback.encode_documents(texts, progress)
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # longest first and in batches of similar length, as sentence-transformers does: less padding
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="Embedding", unit="text")
        for i in range(0, len(texts), self.batch_size):
            idx = order[i:i + self.batch_size]
            out[idx] = self._run([texts[j] for j in idx])
            if bar:
                bar.update(len(idx))
        if bar:
            bar.close()
        return normalize(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self.load() is self._fallback:
            return self._fallback.count_tokens(texts)
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]
