"""Issue #7: the real app under load, and while its index is rebuilt (real models, `rag serve` subprocess).

One server for the module, on a tmp index of seeds/. Eight gradio_client
sessions ask five questions each at the same time; each session asks a
different question in each round, and every answer is checked against its
own question's expected answer, so a reply delivered to the wrong session
fails, and against the answer the question got when asked alone, word for
word, so an answer that shifts with who else is asking fails. The server's
resident memory (psutil) is measured after a warm-up and again after the
load. Numbers are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, SEED_DOC, SEEDS

pytestmark = pytest.mark.model

SESSIONS, PER_SESSION = 8, 5
RSS_TOLERANCE_MB = 150  # 19–103 MB measured (mostly ~43); 84–152 MB before `rag serve` capped glibc's malloc arenas
# (question, a string the answer must contain, or None: the bot must abstain); expected answers differ pairwise
QUESTIONS = [
    ("How many prisoners were swapped?", "314"),
    ("Where were the three-way discussions held?", "Abu Dhabi"),
    ("Who is the Kremlin spokesman?", "Peskov"),
    ("How many points does the plan under discussion have?", "20"),
    ("Which region has Russia insisted on seizing?", "Donbas"),
    # (the ranker's syntactic features had it answer "Negotiations", and this list asked "How did Umerov describe
    # the talks in Abu Dhabi?" instead; with the answer scorer that one answers "productive", this one is right
    # again: quality changes are reported in eval/HISTORY.md, they are not load faults)
    ("What issue has proved the most implacable in the talks?", "territory"),
    ("What is the capital of France?", None),
    ("Which football club won the Champions League final?", None),
]
NEW_ARTICLE = """\
Lighthouse keepers return to Skerry Point
The Skerry Point lighthouse will be staffed again from June, the coastal authority said on Tuesday.
The authority hired 7 keepers to run the lighthouse in shifts after its automatic lamp failed twice in one winter.
"""
NEW_Q = "How many keepers did the authority hire?"


def _rag_index(corpus: Path, index: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index), "-q"],
                          cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)


def _server_processes(port: int):
    """The process listening on ``port`` (the `rag serve` Python process) and its children."""
    import psutil

    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            proc = psutil.Process(conn.pid)
            return [proc] + proc.children(recursive=True)
    raise AssertionError(f"nothing listens on port {port}")


def _rss_mb(port: int) -> float:
    return sum(p.memory_info().rss for p in _server_processes(port)) / 2**20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, port, corpus, index) of `rag serve` started without --host on a tmp index of seeds/."""
    from ui.screenshot import free_port, running_server

    if "RAG_HOST" in os.environ:
        pytest.skip("RAG_HOST is set in the environment; the default-bind test needs it unset")
    tmp = tmp_path_factory.mktemp("load")
    corpus, index = tmp / "corpus", tmp / "index"
    shutil.copytree(SEEDS, corpus)
    r = _rag_index(corpus, index)
    assert r.returncode == 0, r.stderr
    port = free_port()
    with running_server(index, port=port, log_path=tmp / "serve.log") as url:
        yield url, port, corpus, index


def _check(d: dict, question: str, expected: str | None):
    assert d["question"] == question, (question, d["question"])      # this session's own question came back
    if expected is None:
        assert d["abstained"] and not d["citations"], (question, d["answer"])
        return
    assert not d["abstained"], (question, d["answer"])
    assert expected.lower() in d["answer"].lower(), (question, d["answer"])
    assert d["citations"] and all(f"[{c['n']}]" in d["answer"] for c in d["citations"])
    assert all(c["quote"] in c["text"] and c["doc_id"] == SEED_DOC for c in d["citations"])


def _cited(d: dict) -> list[tuple]:
    return [(c["n"], c["doc_id"], c["start"], c["end"]) for c in d["citations"]]


def test_serve_without_host_listens_only_on_loopback(server):
    import psutil

    _, port, _, _ = server
    listening = [c for p in _server_processes(port) for c in p.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {c.laddr.ip for c in listening} <= {"127.0.0.1", "::1"}, listening
    assert any(c.laddr.port == port for c in listening)


def test_eight_sessions_five_questions_each_all_correct_and_memory_returns(server):
    from gradio_client import Client

    url, port, _, _ = server
    warm = Client(url, verbose=False)
    alone = {}
    for q, expected in QUESTIONS:             # warm-up: every code path and cache touched once
        _check(d := warm.predict(q, api_name="/ask"), q, expected)
        alone[q] = d
    baseline = _rss_mb(port)
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb(port))
            done.wait(0.5)

    def session(i: int) -> list[tuple[str, str, dict]]:
        client = Client(url, verbose=False)   # one gradio session per simulated user
        out = []
        for j in range(PER_SESSION):          # in each round the 8 sessions ask 8 different questions
            q, expected = QUESTIONS[(i + j) % len(QUESTIONS)]
            out.append((q, expected, client.predict(q, api_name="/ask")))
        return out

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(SESSIONS) as pool:
            results = list(pool.map(session, range(SESSIONS)))
    finally:
        done.set()
        sampler.join()
    wall = time.monotonic() - t0
    answers = [r for rs in results for r in rs]
    assert len(answers) == SESSIONS * PER_SESSION
    for q, expected, d in answers:
        _check(d, q, expected)
        # and word for word what it was when asked alone: who else is asking changes no answer
        assert (d["answer"], _cited(d)) == (alone[q]["answer"], _cited(alone[q])), (q, d["answer"], alone[q]["answer"])
    with urllib.request.urlopen(url + "gradio_api/info", timeout=10) as r:   # still up
        assert r.status == 200
    after = _rss_mb(port)
    print(f"\nload: {len(answers)} answers from {SESSIONS} sessions in {wall:.1f} s; server RSS baseline "
          f"{baseline:.0f} MB, peak {peak[0]:.0f} MB, after {after:.0f} MB (+{after - baseline:.0f} MB)")
    assert after - baseline < RSS_TOLERANCE_MB, (baseline, peak[0], after)


def test_rebuild_while_serving_answers_from_the_old_index_until_the_new_one_is_live(server):
    from gradio_client import Client

    url, _, corpus, index = server
    client = Client(url, verbose=False)
    old_build = (index / "CURRENT").read_text().strip()
    d = client.predict(NEW_Q, api_name="/ask")
    assert d["abstained"] or "7" not in d["answer"]            # not in the index yet

    (corpus / "lighthouse.txt").write_text(NEW_ARTICLE)
    # and enough other new articles that the rebuild outlasts a few answers (with ONNX a small one takes
    # about as long as one answer, and an answer takes longer with the answer scorer beside the LLM); they are
    # about gardening, so they change no answer
    fillers = corpus / "gardening"
    fillers.mkdir()
    for i in range(300):
        (fillers / f"plot-{i}.txt").write_text(
            f"Allotment diary {i}\n" + " ".join(
                f"Bed {i}-{k} of the allotment grew {i * 7 + k} tomato plants, {k + 3} rows of beans and "
                f"a hedge of {i + k} lavender bushes beside the greenhouse." for k in range(8)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index),
                             "-q"], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    during = 0
    try:
        q, expected = QUESTIONS[0]
        while proc.poll() is None:
            live = (index / "CURRENT").read_text().strip()
            d = client.predict(q, api_name="/ask")
            _check(d, q, expected)                               # the old index keeps answering
            if live == old_build and (index / "CURRENT").read_text().strip() == old_build:
                during += 1
                assert all(p["doc_id"] != "lighthouse.txt" for p in d["passages"])
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert during >= 1, "the rebuild finished before a single question was answered during it"
    assert (index / "CURRENT").read_text().strip() != old_build
    d = client.predict(NEW_Q, api_name="/ask")                  # the next request sees the new build
    assert not d["abstained"] and "7" in d["answer"], d["answer"]
    assert any(c["doc_id"] == "lighthouse.txt" for c in d["citations"])
    _check(client.predict(QUESTIONS[1][0], api_name="/ask"), *QUESTIONS[1])
    print(f"\nrebuild: {during} answers served from the old build while `rag index` ran; new build live after")
