"""The CLI through its real entry point (a subprocess, as a user runs it)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SEEDS


def rag(*args, env=None, timeout=300):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=timeout)


@pytest.mark.parametrize("question,needle", [("", "type a question"), ("   ", "type a question"),
                                             ("x" * 2500, "limit is 2,000")])
def test_bad_question_exits_2_with_a_message(question, needle, tmp_path):
    r = rag("ask", question, "--index", str(tmp_path))
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_missing_index_says_to_run_rag_index(tmp_path):
    r = rag("ask", "How many prisoners were swapped?", "--index", str(tmp_path / "nothing"))
    assert r.returncode == 1
    assert "rag index" in r.stderr and "Traceback" not in r.stderr
    r = rag("search", "prisoners", "--index", str(tmp_path / "nothing"))
    assert r.returncode == 1 and "rag index" in r.stderr
    assert "--corpus" not in r.stderr  # seeds/ is here: `rag index` alone works


def test_an_answer_piped_to_a_reader_that_has_gone_ends_without_a_traceback():
    """`rag ask ... | head -1`: head exits after its line, and the rest of the answer has nowhere to go."""
    p = subprocess.Popen([sys.executable, "-m", "rag", "ask", "What is the capital of France?"], cwd=ROOT,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    p.stdout.close()  # gone before the first line
    _, err = p.communicate(timeout=300)
    assert p.returncode == 1 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_missing_index_elsewhere_says_to_name_the_articles_folder(tmp_path):
    """From a folder without seeds/, `rag index --index DIR` alone would fail: the message says to add --corpus."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("RAG_CORPUS", None)
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "How many prisoners were swapped?"], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "rag index" in r.stderr and "--corpus" in r.stderr and str(tmp_path) in r.stderr


def test_rag_ask_writes_through_its_own_streams_while_a_model_load_silences_the_process():
    """llama-cpp-python points fds 1 and 2 at /dev/null while it loads a model, for every thread; rag ask
    loads its models in a thread while it answers, and writes through duplicates made before (``_own_stream``)."""
    code = (
        "import sys\n"
        "from llama_cpp._utils import suppress_stdout_stderr\n"
        "from rag.cli import _own_stream\n"
        "out, err = _own_stream(sys.stdout), _own_stream(sys.stderr)\n"
        "with suppress_stdout_stderr(disable=False):\n"
        "    print('lost'); print('lost too', file=sys.stderr)\n"
        "    out.write('answer\\n'); err.write('warning\\n'); out.flush(); err.flush()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "answer\n" and r.stderr == "warning\n"


@pytest.mark.parametrize("args,env,needle", [
    (("search", "x", "--mode", "foo"), {}, "--mode='foo'"),
    (("ask", "How many prisoners?"), {"RAG_TOP_K": "abc"}, "RAG_TOP_K='abc'"),
    (("search", "x"), {"RAG_RETRIEVAL_MODE": "fuzzy"}, "RAG_RETRIEVAL_MODE='fuzzy'"),
    (("serve", "--port", "99999"), {}, "--port=99999"),
])
def test_a_bad_setting_is_one_line_and_exit_2(args, env, needle):
    r = rag(*args, env=env)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_serve_on_a_taken_port_says_so_before_loading_anything(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = rag("serve", "--index", str(tmp_path / "nothing-here"), "--port", str(port), timeout=60)
    assert r.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in r.stderr and "--port" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_corpus_is_a_clear_error(tmp_path):
    r = rag("index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"))
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_the_commands():
    r = rag("--help")
    assert r.returncode == 0
    for cmd in ("index", "search", "ask", "serve", "eval"):
        assert cmd in r.stdout


@pytest.mark.parametrize("command,names", [("index", ("RAG_INDEX", "RAG_CORPUS", "seeds/")),
                                           ("search", ("RAG_INDEX", "RAG_TOP_K", "RAG_RETRIEVAL_MODE")),
                                           ("ask", ("RAG_INDEX", "RAG_TOP_K", "RAG_LLM_PATH", "RAG_LLM_URL")),
                                           ("serve", ("RAG_HOST", "127.0.0.1", "RAG_PORT", "7860"))])
def test_help_names_each_option_s_environment_variable(command, names):
    # typer renders help with rich, which takes "[env RAG_INDEX]" for a markup tag and drops it
    r = rag(command, "--help", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    for name in names:
        assert name in r.stdout, (name, r.stdout)


@pytest.mark.model
def test_index_search_ask_end_to_end(tmp_path):
    idx = str(tmp_path / "idx")
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    seed = next(corpus.glob("*.txt"))
    shutil.copy(seed, corpus / "copy.txt")
    r = rag("index", "--corpus", str(corpus), "--index", idx, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "chunks/s" in r.stdout
    assert r.stderr.count("same text as") == 1, r.stderr  # the duplicate is reported once, not twice
    r = rag("index", "--corpus", str(corpus), "--index", idx, "--quiet")
    assert "up to date" in r.stdout

    r = rag("search", "How many prisoners did Russia and Ukraine exchange?", "--index", idx, "--json")
    hits = json.loads(r.stdout)["hits"]
    assert "314 prisoners" in hits[0]["text"]

    r = rag("ask", "How many prisoners were swapped?", "--index", idx, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"question", "answer", "abstained", "citations", "passages", "timings_s"}
    assert "314" in out["answer"] and not out["abstained"]
    assert set(out["citations"][0]) == {"n", "doc_id", "title", "chunk_id", "start", "end", "quote", "text"}
    assert "314 prisoners" in out["citations"][0]["quote"]

    # answered before the models finish loading in rag ask's preload thread, whose llama.cpp loads silence the
    # process's stdout and stderr while they run: the answer is still written, and the process does not wait
    r = rag("ask", "What is the capital of France?", "--index", idx, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["abstained"]

    r = rag("ask", "How many prisoners were swapped?", "--index", idx, env={"RAG_LLM_PATH": str(tmp_path / "no.gguf")})
    assert r.returncode == 1 and "no.gguf" in r.stderr and "RAG_LLM_PATH" in r.stderr
    # said even when the answer would need no model (an early abstention), and by rag serve before it starts
    r = rag("ask", "What is the capital of France?", "--index", idx, "--llm-path", str(tmp_path / "no.gguf"))
    assert r.returncode == 1 and "no.gguf" in r.stderr and "Traceback" not in r.stderr
    r = rag("serve", "--index", idx, "--port", "0", env={"RAG_LLM_PATH": str(tmp_path / "no.gguf")}, timeout=120)
    assert r.returncode == 1 and "no.gguf" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = rag("ask", "How many prisoners were swapped?", "--index", idx, env={"RAG_SCORER_PATH": str(tmp_path / "sc.gguf")})
    assert r.returncode == 1 and "sc.gguf" in r.stderr and "RAG_SCORER_PATH" in r.stderr


def test_sources_quote_a_sentence_once():
    from rag.text import quoted

    assert quoted("Ukraine and Russia swapped 314 prisoners.") == "“Ukraine and Russia swapped 314 prisoners.”"
    # a remark the article already quotes keeps its own marks instead of gaining a second pair
    assert quoted("“We are ready,” he said.") == "“We are ready,” he said."
    assert quoted("'We are ready,' he said.") == "'We are ready,' he said."


def test_abstention_lists_closest_passages_one_line_each(capsys):
    from types import SimpleNamespace as NS

    from rag.cli import print_answer

    short = NS(chunk=NS(title="T", doc_id="a.txt", text="One line\nand   its   next line."))
    long = NS(chunk=NS(title="U", doc_id="b.txt", text="word " * 100))
    print_answer(NS(answer="I could not find the answer in the articles.", abstained=True, passages=[short, long]))
    lines = capsys.readouterr().out.splitlines()
    assert "  - T (a.txt): One line and its next line." in lines  # not cut, so no "…"
    long_line = next(line for line in lines if line.startswith("  - U (b.txt): "))
    assert long_line.endswith(" …") and len(long_line) < 230


def test_a_text_without_spaces_is_cut_not_dropped():
    from rag.cli import _one_line

    assert _one_line("今日は" * 100) == ("今日は" * 100)[:199] + "…"
    assert _one_line("x" * 300) == "x" * 199 + "…"
    assert _one_line("short\n\ntext") == "short text"


def test_only_a_port_in_use_counts_as_taken():
    import socket

    from rag.cli import _port_taken

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _port_taken("127.0.0.1", port)
        assert _port_taken("0.0.0.0", port)  # every address includes the one in use
    assert not _port_taken("127.0.0.1", port)  # free again
    assert not _port_taken("192.0.2.1", port)  # an address this machine lacks: the server's own start says so
    assert not _port_taken("127.0.0.1", 0)



def test_the_draft_is_erased_from_the_terminal_by_its_rows(tmp_path):
    """`rag ask` in a terminal streams the model's draft, then prints the checked answer: the draft ("Jared
    Kushner is a former US President …", refused) stayed on screen above it. It is erased by as many rows as
    it took at the terminal's width; where there is no terminal width it stays, and the answer goes under it."""
    import fcntl
    import struct
    import termios

    from rag.cli import _erase_from_terminal

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))  # 24 rows of 40 columns
    with os.fdopen(slave, "w") as tty:
        _erase_from_terminal("draft, being checked: " + "x" * 78 + "\nsecond line", tty)  # 100 chars + a line
    written = os.read(master, 1000).decode()
    os.close(master)
    assert written == "\r" + "\x1b[1A" * 3 + "\x1b[J"  # rows 1-3 and the second line's: up three, clear down
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 5, 40, 0, 0))  # a screen of 5 rows
    with os.fdopen(slave, "w") as tty:
        _erase_from_terminal("\t" * 10 + "x" * 1000, tty)  # tabs are 8 columns; 26 rows, more than the screen
    written = os.read(master, 1000).decode()
    os.close(master)
    assert written == "\r" + "\x1b[1A" * 4 + "\x1b[J"  # up to the top row, no further
    with open(tmp_path / "log", "w") as not_a_tty:
        _erase_from_terminal("draft, being checked: 314", not_a_tty)
    assert (tmp_path / "log").read_text() == "\n"
