"""The ``rag`` command: index, search, ask, serve, eval.

Every option also reads its ``RAG_*`` environment variable (see ``rag.settings``);
a flag given on the command line wins. Errors a user can cause print one clear
line and exit non-zero (2 for a bad question), never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import textwrap
import threading
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="newsrag: ask questions about news articles, answered offline with cited passages.")

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="Index folder (env RAG_INDEX; default index/).")]
TopKOpt = Annotated[Optional[int], typer.Option("--top-k", min=1, max=100, help="Passages to retrieve (env RAG_TOP_K; default 5).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _n(count: int, noun: str) -> str:
    """"1 article", "2 articles"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


FLAGS = {"retrieval_mode": "--mode"}  # settings whose flag is not their name


def _settings(**overrides):
    """The settings: flags over ``RAG_*`` variables over defaults; a bad value is one line per problem, exit 2."""
    from pydantic import ValidationError

    from rag.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = ".".join(str(x) for x in err["loc"]) or "settings"
            where = FLAGS.get(name, "--" + name.replace("_", "-")) if name in given else f"RAG_{name.upper()}"
            problems.append(f"{where}={err.get('input')!r}: {err['msg']}")
        _fail("; ".join(problems), 2)


def _port_taken(host: str, port: int) -> bool:
    """Whether something already listens on host:port (checked before the models load, not after). Only "address
    in use" counts: any other trouble binding (a privileged port, an address this machine lacks) is left for the
    server's own start to report."""
    import errno
    import socket

    if not port:
        return False
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as the server (uvicorn) chooses it
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no conflict
            sock.bind((host, port))
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    return False


def _fail(message: str, code: int = 1):
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _index_problem(e: Exception, s) -> str:
    """An index error's message; where it says to run ``rag index`` and this folder has no ``seeds/`` (or
    whatever ``RAG_CORPUS`` names), it adds that the articles' folder must be given: the command alone would fail."""
    message = str(e)
    if "rag index" in message and not Path(s.corpus).is_dir():
        message += f" (add --corpus and your articles' folder: there is no {s.corpus}/ in {Path.cwd()})"
    return message


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt


@app.command()
def index(
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Articles folder (env RAG_CORPUS; default seeds/).")] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Ignore the existing index and embed everything again.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """Build or update the index from a folder of articles (only changed articles are re-embedded).

    Articles are .txt (first line the headline), .md, .html/.htm, .json and .jsonl files, in any subfolder."""
    from rag.embedding import make_embedder
    from rag.indexing import build_index
    from rag.store import IndexError_

    s = _settings(corpus=corpus, index=index)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    # the build's warnings (duplicate or unreadable articles) are listed once, after the progress bars,
    # not also by Python's last-resort log handler in the middle of them
    docs_log = logging.getLogger("rag.documents")
    if not docs_log.handlers:
        docs_log.addHandler(logging.NullHandler())
    try:
        r = build_index(s, make_embedder(s), s.corpus, s.index, rebuild=rebuild, progress=not quiet)
    except KeyboardInterrupt:
        _fail(f"interrupted: nothing was written, the previous index in {s.index}/ is unchanged; "
              "run rag index again to finish", 130)
    except (IndexError_, FileNotFoundError, PermissionError, ValueError, RuntimeError) as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"could not write the index ({e}); the previous index in {s.index}/ is unchanged")
    for w in r.warnings:
        typer.secho(f"warning: {w}", err=True, fg=typer.colors.YELLOW)
    if r.unchanged:
        typer.echo(f"index {r.index_dir}/ is up to date: {_n(r.n_docs, 'article')}, {_n(r.n_chunks, 'chunk')} "
                   f"({r.seconds:.1f} s)")
        return
    typer.echo(
        f"indexed {_n(r.n_docs, 'article')} into {_n(r.n_chunks, 'chunk')} in {r.seconds:.1f} s "
        f"({r.chunks_per_s:.1f} chunks/s); {_n(r.n_sentences, 'sentence')}, embedded {r.embedded:,} distinct in {r.embed_seconds:.1f} s, "
        f"reused {r.reused:,}; "
        f"{len(r.changed_docs):,} new or changed, {len(r.removed_docs):,} removed; FAISS {r.faiss_factory} -> {r.index_dir}/"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="hybrid | dense | bm25 (env RAG_RETRIEVAL_MODE).")] = None,
    as_json: JsonOpt = False,
):
    """Show the passages retrieval finds for a query, with their scores."""
    from rag.answer import QuestionError, clean_question
    from rag.embedding import make_embedder
    from rag.retrieval import Retriever
    from rag.store import IndexError_, IndexStore, expected_manifest

    s = _settings(index=index, top_k=top_k, retrieval_mode=mode)
    try:
        query = clean_question(query, s.max_question_chars)
        emb = make_embedder(s)
        store = IndexStore.load(s.index, expect=expected_manifest(s, emb.model_id))
    except QuestionError as e:
        _fail(str(e), 2)
    except IndexError_ as e:
        _fail(_index_problem(e, s))
    hits = Retriever.from_settings(store, emb, s).search(query, s.top_k)
    if as_json:
        typer.echo(json.dumps({"query": query, "mode": s.retrieval_mode, "hits": [h.to_dict() for h in hits]},
                              ensure_ascii=False, indent=1))
        return
    for h in hits:
        dense = "-" if h.dense is None else f"{h.dense:.3f}"
        bm25 = "-" if h.bm25 is None else f"{h.bm25:.2f}"
        typer.secho(f"[{h.rank}] {h.chunk.title}  ({h.chunk.doc_id})  score {h.score:.4f}  dense {dense}  bm25 {bm25}",
                    bold=True)
        typer.echo(textwrap.indent(h.chunk.text, "    ") + "\n")  # every line of the chunk, not just its first


def _one_line(text: str, width: int = 200) -> str:
    """Whitespace collapsed, cut at a word with " …" only where it was cut (mid-word in a text without spaces)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = textwrap.shorten(flat, width, placeholder=" …")
    return cut if cut.strip() != "…" else flat[:width - 1] + "…"


def print_answer(ans, file=None) -> None:
    from rag.text import quoted

    typer.echo(ans.answer, file=file)
    if ans.abstained:
        if ans.passages:
            typer.echo("\nClosest passages (they do not answer the question):", file=file)
            for h in ans.passages[:3]:
                typer.echo(f"  - {h.chunk.title} ({h.chunk.doc_id}): {_one_line(h.chunk.text)}", file=file)
        return
    typer.echo("\nSources:", file=file)
    for c in ans.citations:
        typer.echo(f"  [{c.n}] {c.title} ({c.doc_id})\n      {quoted(c.quote)}", file=file)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the articles.")],
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    llm_path: Annotated[Optional[str], typer.Option("--llm-path", help="GGUF model file (env RAG_LLM_PATH).")] = None,
    llm_url: Annotated[Optional[str], typer.Option("--llm-url", help="OpenAI-compatible endpoint (env RAG_LLM_URL).")] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the model's draft.")] = False,
):
    """Answer a question from the index, citing and quoting the passages it relies on."""
    # llama-cpp-python points the whole process's stdout and stderr (fds 1 and 2) at /dev/null while it loads
    # a model, and preload() loads them in a thread while this one answers: this command writes through its
    # own copies of the two, made first, and so do the rag loggers' warnings meanwhile
    out, err = _own_stream(sys.stdout), _own_stream(sys.stderr)
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger("rag").addHandler(handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not a background job's SIG_IGN
        # Ctrl-C ends this process at once. Raised as KeyboardInterrupt it could land in an import that the
        # other thread waits for (and hang it) or inside a C extension's (which turns it into an ImportError)
        signal.signal(signal.SIGINT, lambda signum, frame: _exit_interrupted(err))
    try:
        code = _ask(question, index, top_k, llm_path, llm_url, as_json, quiet, out, err)
    except typer.Exit as e:  # a bad setting, said already
        code = e.exit_code
    except BrokenPipeError:  # `rag ask ... | head`: the reader has gone, and with it whom to tell
        with contextlib.suppress(AttributeError, OSError, ValueError):  # what is still buffered goes nowhere
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        code = 1  # as click's own commands exit when their reader goes
    except Exception as e:  # noqa: BLE001 - said here: stderr itself may be silenced by a load at this moment
        traceback.print_exception(e, file=err)
        code = 1
    finally:
        logging.getLogger("rag").removeHandler(handler)
    for f in (out, err):
        f.flush()
    if any(t.name.startswith("newsrag-preload") and t.is_alive() for t in threading.enumerate()):
        os._exit(code)  # everything is written; a load the answer no longer needs (an early abstention, an error)
    if code:
        raise typer.Exit(code)


def _exit_interrupted(err):
    with contextlib.suppress(Exception):
        err.write("interrupted\n")
        err.flush()
    os._exit(130)


def _erase_from_terminal(text: str, stream) -> None:
    """Erase ``text``, just written to the terminal ``stream``, by its rows at the terminal's width."""
    from rich.cells import cell_len

    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        columns = lines = 0
    if columns <= 0:  # a terminal that does not say its width: the draft stays, the answer under it
        stream.write("\n")
        return
    rows = sum(max(1, -(-cell_len(line.expandtabs()) // columns)) for line in text.split("\n"))
    if lines > 0:  # the cursor goes up to the screen's top row at most; what scrolled past it stays in the scrollback
        rows = min(rows, lines)
    stream.write("\r" + "\x1b[1A" * (rows - 1) + "\x1b[J")
    stream.flush()


def _own_stream(stream):
    """A text stream over a duplicate of ``stream``'s file descriptor (``stream`` itself when it has none)."""
    try:
        return os.fdopen(os.dup(stream.fileno()), "w", encoding=stream.encoding or "utf-8", errors="replace")
    except (AttributeError, OSError, ValueError):
        return stream


def _ask(question, index, top_k, llm_path, llm_url, as_json, quiet, out, err) -> int:
    from rag.answer import Answer, Pipeline, QuestionError, clean_question
    from rag.llm import LLMUnavailable
    from rag.store import IndexError_

    s = _settings(index=index, top_k=top_k, llm_path=llm_path, llm_url=llm_url)
    drafted = ""
    try:
        clean_question(question, s.max_question_chars)
        pipe = Pipeline.from_settings(s)
        pipe.preload()  # spaCy and the LLMs load while the question is searched
        result = None
        stream = not as_json and not quiet and sys.stderr.isatty()
        for part in pipe.ask_stream(question):
            if isinstance(part, Answer):
                result = part
            elif stream:
                if not drafted:  # the model's words as they come; the answer below is checked and may differ
                    drafted = "draft, being checked: "
                    typer.secho(drafted, nl=False, file=err, dim=True, italic=True)
                drafted += part
                typer.secho(part, nl=False, file=err, dim=True)
        if drafted:  # the checked answer replaces it: a refused or corrected draft does not stay on screen
            _erase_from_terminal(drafted, err)
    except QuestionError as e:
        typer.secho(f"error: {e}", file=err, fg=typer.colors.RED)
        return 2
    except (IndexError_, LLMUnavailable, RuntimeError) as e:
        if drafted:  # the message on a line of its own, under the draft it cut short
            typer.echo("", file=err)
        typer.secho(f"error: {_index_problem(e, s)}", file=err, fg=typer.colors.RED)
        return 1
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), file=out)
    else:
        print_answer(result, out)
    return 0


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[Optional[str], typer.Option("--host", help="Address to bind (env RAG_HOST; default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Port (env RAG_PORT; default 7860).")] = None,
):
    """Start the chat in the browser (Gradio)."""
    from rag.store import IndexError_

    _limit_malloc_arenas()
    s = _settings(index=index, host=host, port=port)
    if _port_taken(s.host, s.port):
        _fail(f"port {s.port} on {s.host} is in use (another server?): choose another with --port or RAG_PORT")
    try:
        from ui.app import launch
    except ImportError as e:
        _fail(f"the chat app is not available ({e})")
    from rag.llm import LLMUnavailable

    try:
        launch(s)
    except (IndexError_, LLMUnavailable) as e:
        _fail(_index_problem(e, s))


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas in the server, before any thread starts (unless ``MALLOC_ARENA_MAX`` is set).

    glibc gives each thread that allocates while another one does a heap of its own, up to eight per core,
    and keeps their pages: after eight chat sessions asking at once, the server's memory stayed 84–152 MB
    above what it was after warm-up; with two arenas, 19–103 MB (four runs of six at 43–45 MB), and the 40
    answers took as long (19.4–22.2 s against 19.9–20.8 s; ``tests/test_load.py -s``, 2 cores)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # a libc without it (musl has no arenas to cap)
        pass


@app.command("eval")
def evaluate(
    gold: Annotated[Path, typer.Option("--gold", help="Gold Q&A file (JSON Lines).")],
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Build or reuse an index of this folder.")] = None,
    index: IndexOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the JSON report here.")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Write a readable HTML report here.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Evaluate a random sample of N questions.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --limit sample.")] = 0,
    variant: Annotated[Optional[list[str]], typer.Option("--variant", help="Ablations to compare: hybrid, dense, bm25, noverify (repeatable).")] = None,
    compare: Annotated[Optional[list[Path]], typer.Option("--compare", help="Another gold set's --out report, drawn beside this one in the HTML (repeatable).")] = None,
):
    """Measure retrieval, answers, citations, abstention and latency against a gold Q&A file."""
    try:
        from rag.evaluate import run_cli
    except ImportError as e:
        _fail(f"the evaluation harness is not available ({e})")
    code = run_cli(gold=gold, corpus=corpus, index=index, out=out, html=html, limit=limit, seed=seed,
                   variants=variant or [], settings=_settings(), compare=compare or [])
    raise typer.Exit(code)


def main():
    app()


if __name__ == "__main__":
    main()
