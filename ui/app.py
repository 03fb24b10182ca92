"""The Gradio chat: streamed answers, a sources panel, example questions, article upload, and an API.

``build_app(pipe, settings)`` returns the ``gr.Blocks``; ``launch(settings)``
loads the pipeline, queues and serves it (``rag serve`` calls it). The app
holds no retrieval logic: each request is one call to ``Pipeline.ask_stream``.

Safety: every piece of article or answer text is escaped before it reaches
the page (see ``ui.render``). Each request catches its own errors and shows
them in its own chat, so one failure never stops the server. Requests go
through Gradio's queue; the LLM has its own lock, so concurrent questions
wait their turn rather than fail.

Programs use ``api_name="ask"``: question string in, the ``rag ask --json``
object out::

    from gradio_client import Client
    Client("http://127.0.0.1:7860/").predict("How many prisoners were swapped?", api_name="/ask")
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from ui.render import (
    CSS, empty_sources_html, escape_markdown, message_html, sources_html, status_markdown,
)
from ui.uploads import ALLOWED_SUFFIXES, ArticleUploader, UploadError

log = logging.getLogger(__name__)

# questions about the seed article (seeds/000_aa0e348396f8f4a1.txt): offered only when the index holds it
EXAMPLES = (
    "How many prisoners were swapped?",
    "Where were the three-way talks held?",  # (the first round was "in the Persian Gulf emirate")
    # (not "Who announced the exchange?": the span ranker answers "Ukrainian authorities", who confirmed it)
    "Who is the Kremlin spokesman?",
)
EXAMPLES_ARTICLE = "Ukraine and Russia agree to swap prisoners as talks advance"
# the question box takes the focus back once an answer is in (it was disabled meanwhile, and the page lost it)
# (unless the user has gone elsewhere on the page meanwhile, and not on a touch screen, where it would open the
# keyboard over the answer; without scrolling)
FOCUS_QUESTION_JS = """() => { setTimeout(() => {
  const box = document.querySelector('#nr-question textarea');
  const here = document.activeElement;
  const idle = !here || here === document.body || here.closest('#nr-question, #nr-send, .nr-example');
  if (box && idle && !window.matchMedia('(pointer: coarse)').matches) box.focus({preventScroll: true});
}, 50); }"""


def examples_for(store) -> tuple[str, ...]:
    """The example questions, when the index holds the article they ask about; none otherwise."""
    return EXAMPLES if any(c.title == EXAMPLES_ARTICLE for c in store.chunks) else ()
THINKING = "…"
DRAFT_LABEL = "*Draft, being checked against the articles:*\n\n"


def _theme():
    import gradio as gr

    # system fonts only: the default theme fetches Google Fonts, which an offline machine cannot reach
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def _answer_markdown(answer) -> str:
    text = escape_markdown(answer.answer)
    if answer.abstained:
        return text + "\n\n*" + escape_markdown("The closest passages are listed under Sources; "
                                                "they do not support an answer.") + "*"
    return text


def reload_or_keep_serving(pipe) -> None:
    """Switch to a newer complete build; if it cannot be loaded (damaged, other model), keep the current one."""
    try:
        pipe.reload_if_changed()
    except Exception as e:  # noqa: BLE001 - a bad new build must not stop answers from the good old one
        log.warning("index reload failed, still serving build %s: %s", pipe.store.path.name, e)


def build_app(pipe, settings):
    """The chat page and the ``ask`` API endpoint, bound to a loaded ``Pipeline``."""
    import gradio as gr

    from rag.answer import Answer, QuestionError, printable

    uploader = ArticleUploader(pipe, settings)
    examples = examples_for(pipe.store)

    def status() -> str:
        reload_or_keep_serving(pipe)
        return status_markdown(pipe)

    def locked():
        return (gr.update(interactive=False),) * (1 + len(controls))

    def unlocked():
        return (gr.update(interactive=True),) * (1 + len(controls))

    def respond(question, messages, history):
        """``answer_turn``, then the page's question box and buttons enabled again (``locked`` disabled them).

        One answer at a time per page: a second question sent meanwhile (Enter, Ask or an example) would
        start from the chat as it was and overwrite the first one's answer when done, and Gradio drops a
        second Enter or Ask on the same event without a word; now the controls say it. Whatever happens here,
        the last yield enables them again (and ``.failure`` does where Gradio itself fails the event)."""
        try:
            with contextlib.closing(answer_turn(question, messages, history)) as turn:  # closed on a disconnect too
                for out in turn:  # it reports its own errors in the chat
                    yield (*out, *(gr.skip(),) * len(controls))
        except Exception as e:  # noqa: BLE001 - never leave the page disabled
            log.exception("request failed")
            text = f"Sorry, this question failed ({type(e).__name__}: {e}). The server is still running; try again."
            yield (gr.skip(), gr.skip(), gr.skip(), message_html(text), gr.skip(), *(gr.skip(),) * len(controls))
        yield (gr.skip(), gr.skip(), *unlocked()[:1], gr.skip(), gr.skip(), *unlocked()[1:])

    def answer_turn(question, messages, history):
        """Stream the draft into the chat, then replace it with the verified answer and fill the sources."""
        question = question if isinstance(question, str) else ""
        if not printable(question).strip():  # said beside the box; the conversation and its sources stay as they were
            gr.Warning("Please type a question.")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = list(messages or [])
        history = [tuple(p) for p in (history or [])]
        shown = question.strip()
        if len(shown) > settings.max_question_chars:  # refused below; the chat need not hold all of it
            shown = shown[:settings.max_question_chars] + "…"
        messages.append({"role": "user", "content": escape_markdown(shown)})
        messages.append({"role": "assistant", "content": THINKING})
        turn = sum(1 for m in messages if m.get("role") == "user")
        yield messages, history, gr.update(value="", interactive=False), message_html("Searching the articles…"), gr.skip()
        answer = None
        reload_or_keep_serving(pipe)
        try:
            stream = pipe.ask_stream(question, history=history)
            draft = ""
            try:
                for part in stream:
                    if isinstance(part, Answer):
                        answer = part
                    else:
                        draft += part
                        # the model's words as they come, marked as a draft: the answer that replaces it is
                        # checked against the passages and may differ, or be a refusal
                        messages[-1] = {"role": "assistant", "content": DRAFT_LABEL + escape_markdown(draft)
                                        if draft.strip() else THINKING}
                        yield messages, history, gr.skip(), gr.skip(), gr.skip()
            finally:
                stream.close()  # releases the LLM lock even when the browser went away mid-stream
            if answer is None:
                raise RuntimeError("the pipeline returned no answer")
            # rendered here, so that a failure to render is reported like any other
            messages[-1] = {"role": "assistant", "content": _answer_markdown(answer)}
            final = (messages, history + [(answer.question, answer.answer)], gr.skip(), sources_html(answer, turn),
                     status_markdown(pipe))
        except QuestionError as e:
            messages[-1] = {"role": "assistant", "content": escape_markdown(str(e))}
            final = (messages, history, gr.skip(), message_html(str(e), turn), gr.skip())
        except Exception as e:  # noqa: BLE001 - one failed request must not take the server down
            log.exception("request failed")
            text = f"Sorry, this question failed ({type(e).__name__}: {e}). The server is still running; try again."
            messages[-1] = {"role": "assistant", "content": escape_markdown(text)}
            final = (messages, history, gr.skip(), message_html(text, turn), gr.skip())
        yield final

    def ask_api(question: str) -> dict:
        """Answer a question from the articles; returns the same JSON object as `rag ask --json`."""
        reload_or_keep_serving(pipe)
        try:
            return pipe.ask(question).to_dict()
        except QuestionError as e:  # the caller's mistake, told to the caller: no traceback in the server's log
            raise gr.Error(str(e), print_exception=False) from e
        except Exception as e:  # noqa: BLE001
            log.exception("api request failed")  # the traceback, once (Gradio would print it again)
            raise gr.Error(f"{type(e).__name__}: {e}", print_exception=False) from e

    def add_article(file):
        if not file:
            return gr.skip(), gr.skip()
        path = Path(file if isinstance(file, str) else getattr(file, "name", file))
        try:
            r = uploader.add(path, path.name)
        except UploadError as e:
            return escape_markdown(str(e)), status()
        except Exception as e:  # noqa: BLE001
            log.exception("upload failed")
            return escape_markdown(f"Could not add the article ({type(e).__name__}: {e})."), status()
        if r.already:
            msg = f"{r.doc_id} is this same file, added before: nothing changed. The index holds {r.n_docs} articles."
        else:
            msg = (f"Added {r.doc_id}" + (f" ({r.taken} is another article, kept as it was)" if r.taken else "")
                   + f": the index now holds {r.n_docs} articles, {r.n_chunks} chunks "
                   f"({r.embedded} sentence{'' if r.embedded == 1 else 's'} embedded in {r.seconds:.1f} s). "
                   "Ask about it now.")
        return escape_markdown(msg), status_markdown(pipe)

    # delete_cache: Gradio keeps each upload in its own temp folder; drop those copies after an hour
    with gr.Blocks(title="newsrag", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## newsrag · ask the news articles")
        status_md = gr.Markdown(status_markdown(pipe), elem_id="nr-status")
        history_state = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", show_label=False, elem_id="nr-chat", height=460, sanitize_html=True,
                                  latex_delimiters=[], allow_tags=False, feedback_options=None,
                                  buttons=["copy"])
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask about the articles" + (f", e.g. {examples[0]}" if examples else ""),
                                          show_label=False, scale=5, elem_id="nr-question")
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="nr-send")
                example_buttons = []
                if examples:
                    gr.Markdown("Try:")
                    with gr.Row():
                        example_buttons = [gr.Button(q, size="sm", elem_classes=["nr-example"]) for q in examples]
                clear = gr.Button("New conversation", size="sm")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(empty_sources_html(), elem_id="nr-sources", js_on_load=None)
        with gr.Accordion("Add an article", open=False):
            # no file_types: Gradio's own refusal of another type is a toast that leaves the last upload's message
            # on the page; ours replaces it ("bad.pdf: only .txt, .md, .html articles can be added")
            upload = gr.File(label=f"Article ({', '.join(ALLOWED_SUFFIXES)}, at most {settings.max_upload_mb:g} MB)",
                             type="filepath", elem_id="nr-upload")
            upload_msg = gr.Markdown("", elem_id="nr-upload-msg")

        controls = [send, clear, *example_buttons]  # disabled while this page's answer is written
        outputs = [chat, history_state, question, sources, status_md, *controls]
        common = dict(outputs=outputs, api_visibility="private", concurrency_id="answer", concurrency_limit=2)
        # the controls are disabled at once in the browser's request (no queue), before the answer waits its turn
        lock = dict(outputs=[question, *controls], queue=False, api_visibility="private")
        answers = [question.submit(locked, None, **lock).then(respond, [question, chat, history_state], **common),
                   send.click(locked, None, **lock).then(respond, [question, chat, history_state], **common)]
        for b, q in zip(example_buttons, examples):
            answers.append(b.click(lambda q=q: (gr.update(value=q, interactive=False), *locked()[1:]), None, **lock)
                           .then(respond, [question, chat, history_state], **common))
        for a in answers:  # an event Gradio itself fails (the queue full, an output it cannot send) ends unlocked
            a.failure(unlocked, None, **lock)
            a.then(None, None, None, js=FOCUS_QUESTION_JS, queue=False, api_visibility="private")
        clear.click(lambda: ([], [], empty_sources_html()), None, [chat, history_state, sources],
                    queue=False, api_visibility="private")
        # the chat's own trash button stays usable: it stops an answer being written (which would write the
        # conversation back when done), forgets the conversation and enables the controls again
        chat.clear(lambda: ([], empty_sources_html(), *unlocked()), None, [history_state, sources, question, *controls],
                   queue=False, api_visibility="private", cancels=answers)
        upload.upload(add_article, upload, [upload_msg, status_md], api_visibility="private",
                      concurrency_limit=1, concurrency_id="upload")
        demo.load(status, None, status_md, api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_id="answer", concurrency_limit=2)
    return demo


def launch(settings) -> None:
    """Load the pipeline and serve the chat on settings.host:settings.port until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from rag.answer import Pipeline

    pipe = Pipeline.from_settings(settings)
    pipe.warm_up()  # the first question should not pay for loading the models, and a bad LLM file fails here
    demo = build_app(pipe, settings)
    demo.queue(max_size=64)
    _, local_url, _ = demo.launch(
        server_name=settings.host, server_port=settings.port, prevent_thread_lock=True, quiet=True,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024), ssr_mode=False, theme=_theme(), css=CSS,
        footer_links=["api"],
    )
    print(f"newsrag chat running on {local_url} (Ctrl-C to stop)", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
