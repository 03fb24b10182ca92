"""The OpenAI-compatible HTTP backend against a real llama.cpp server on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from rag.answer import Pipeline
from rag.llm import LLMUnavailable, OpenAIHTTPGenerator
from rag.settings import bundled_llm_path
from rag.store import IndexStore

pytestmark = pytest.mark.model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("llama-server") / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", bundled_llm_path(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_http_generator_streams_tokens(llama_server):
    gen = OpenAIHTTPGenerator(llama_server, model="smollm2")
    parts = list(gen.stream([{"role": "user", "content": "Say hello."}], max_tokens=8))
    assert len(parts) >= 2 and "".join(parts).strip()


def test_pipeline_over_http_answers_314(llama_server, seed_index_real, real_embedder):
    store = IndexStore.load(seed_index_real.index)
    pipe = Pipeline(seed_index_real, store, real_embedder, OpenAIHTTPGenerator(llama_server, model="smollm2"))
    ans = pipe.ask("How many prisoners did Ukraine and Russia swap?")
    assert "314" in ans.answer and any("314 prisoners" in c.quote for c in ans.citations)


def test_unreachable_server_is_a_clear_error():
    gen = OpenAIHTTPGenerator(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(LLMUnavailable, match="RAG_LLM_URL"):
        list(gen.stream([{"role": "user", "content": "hi"}], max_tokens=4))


@pytest.mark.parametrize("url", ["not a url", "127.0.0.1:8080", "ftp://host/v1", "http://"])
def test_an_address_that_is_not_http_is_refused_at_once(url):
    with pytest.raises(LLMUnavailable, match="not an http"):
        OpenAIHTTPGenerator(url)
    assert OpenAIHTTPGenerator(" http://127.0.0.1:8080/ ").url == "http://127.0.0.1:8080/v1"
