"""The ONNX backend against sentence-transformers itself, with the real bundled MiniLM."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SEEDS, SEED_DOC

pytestmark = pytest.mark.model

TEXTS = [line for line in (SEEDS / SEED_DOC).read_text(encoding="utf-8").splitlines() if line.strip()] + [
    "How many prisoners were swapped?", "x", "Ünïcödé — “quotes” and 数字 314", "word " * 400]


def test_onnx_vectors_equal_sentence_transformers(real_embedder, torch_embedder):
    from rag.embedding_onnx import OnnxEmbedder

    assert isinstance(real_embedder, OnnxEmbedder) and real_embedder._session is not None  # not the fallback
    onnx, ref = real_embedder.encode_documents(TEXTS), torch_embedder.encode_documents(TEXTS)
    assert onnx.shape == ref.shape == (len(TEXTS), 384)
    assert np.abs(onnx - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert real_embedder.model_id == torch_embedder.model_id  # same vectors, so the same index serves both


def test_onnx_counts_tokens_like_the_model_tokenizer(real_embedder, torch_embedder):
    assert real_embedder.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)


def test_int8_is_close_but_records_its_own_model_id(real_embedder, tmp_path):
    from rag.embedding_onnx import OnnxEmbedder

    q = OnnxEmbedder(real_embedder.name_or_path, quantize=True, cache_dir=tmp_path)
    assert q.model_id.endswith("+onnx-int8") and q.model_id != real_embedder.model_id
    a, b = q.encode_documents(TEXTS), real_embedder.encode_documents(TEXTS)
    cos = (a * b).sum(axis=1)
    assert cos.mean() > 0.98 and cos.min() > 0.9
    assert (tmp_path / q.export_dir.name / "model.onnx").stat().st_size < 40e6  # quantized: about a quarter


def test_export_is_cached_and_a_fresh_process_needs_no_torch(real_embedder):
    before = (real_embedder.export_dir / "model.onnx").stat().st_mtime_ns
    code = ("import sys; from rag.settings import Settings; from rag.embedding import make_embedder; "
            "e = make_embedder(Settings()); v = e.encode_queries(['How many prisoners were swapped?']); "
            "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["(1,", "384)", "False", "False"], out.stdout + out.stderr
    assert (real_embedder.export_dir / "model.onnx").stat().st_mtime_ns == before  # not exported again


def test_a_model_that_cannot_be_exported_falls_back_to_torch(monkeypatch, tmp_path, torch_embedder):
    import rag.embedding_onnx as mod

    def broken(*a, **k):
        raise RuntimeError("tracer says no")

    monkeypatch.setattr(mod, "export_onnx", broken)
    emb = mod.OnnxEmbedder(torch_embedder.name_or_path, cache_dir=tmp_path)
    assert np.abs(emb.encode_documents(TEXTS[:3]) - torch_embedder.encode_documents(TEXTS[:3])).max() < 1e-6
    q = mod.OnnxEmbedder(torch_embedder.name_or_path, quantize=True, cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="RAG_EMBED_BACKEND=torch"):
        q.encode_documents(TEXTS[:1])
