import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC = "000_aa0e348396f8f4a1.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def settings(tmp_path):
    from rag.settings import Settings

    # rank fusion: the hash embedder's vectors are hashed words, not meaning, and score fusion would weigh their
    # z-scores as much as BM25's; the tests with the real models (test_models.py, the browser) run the default
    return Settings(corpus=SEEDS, index=tmp_path / "index", chunk_tokens=60, chunk_overlap=15, fusion="rrf")


@pytest.fixture
def hash_embedder():
    from rag.embedding import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def seed_copy(tmp_path):
    """A writable copy of seeds/ for tests that change the corpus."""
    dst = tmp_path / "corpus"
    shutil.copytree(SEEDS, dst)
    return dst


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled MiniLM as users run it: the default backend (ONNX, exported once and cached)."""
    from rag.embedding import make_embedder
    from rag.settings import Settings

    emb = make_embedder(Settings())
    emb.load()
    return emb


@pytest.fixture(scope="session")
def torch_embedder():
    from rag.embedding import SentenceTransformerEmbedder
    from rag.settings import bundled_embedding_model

    emb = SentenceTransformerEmbedder(bundled_embedding_model())
    emb.load()
    return emb


@pytest.fixture(scope="session")
def real_generator():
    """The bundled SmolLM2 as users run it: from its 8-bit copy (``rag.llm.eight_bit_copy``)."""
    from rag.llm import LlamaCppGenerator
    from rag.settings import bundled_llm_path

    gen = LlamaCppGenerator(bundled_llm_path(), n_ctx=2048, seed=0, eight_bit=True)
    gen.load()
    return gen


@pytest.fixture(scope="session")
def seed_index_real(tmp_path_factory, real_embedder):
    """The seed article indexed with the real MiniLM and default settings, once per session."""
    from rag.indexing import build_index
    from rag.settings import Settings

    index_dir = tmp_path_factory.mktemp("seed-index")
    s = Settings(corpus=SEEDS, index=index_dir)
    build_index(s, real_embedder, progress=False)
    return s
