"""The chat app: escaping and uploads (fast), then the real app over HTTP and in a real browser (marked).

The marked tests start ``rag serve`` as a subprocess once per module, on an
index built in a tmp folder from seeds/ with the real bundled models, and talk
to it through ``gradio_client`` and a headless Debian Chromium (Playwright).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ui.render import escape_markdown, highlight, sources_html
from ui.uploads import ArticleUploader, UploadError, safe_filename

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RAG = Path(sys.executable).parent / "rag"
SWAP_Q = "How many prisoners were swapped?"

XSS_ARTICLE = """\
Mayor <script>window.__nrPwned = 1; alert('xss-title')</script> opens bridge <img src=x onerror="window.__nrPwned = 2; alert('xss-img')">
The mayor of Riverton opened the new Harbour Bridge on Monday <img src=x onerror="window.__nrPwned = 3; alert('xss-body')"> after three years of work.
<script>window.__nrPwned = 4; alert('xss-script')</script> The Harbour Bridge cost 42 million euros to build, the city council said.
More at [the council](javascript:alert('xss-link')) and <a href="javascript:alert('xss-a')">the map</a>.
"""

UPLOAD_ARTICLE = """\
Lighthouse keepers return to Skerry Point
The Skerry Point lighthouse will be staffed again from June, the coastal authority said on Tuesday.
The authority hired 7 keepers to run the lighthouse in shifts after its automatic lamp failed twice in one winter.
"""


# -- fast: rendering and uploads, no models ---------------------------------------------------------


def test_escape_markdown_leaves_no_markup():
    out = escape_markdown("<script>alert(1)</script> [x](javascript:alert(2)) ![i](y) 314 [1]")
    assert "<" not in out and ">" not in out
    assert "&lt;script&gt;" in out
    assert "[x](" not in out and "![i]" not in out      # link and image syntax neutralised
    assert "314 \\[1\\]" in out                          # markers survive, shown literally


def test_highlight_marks_the_quote_and_escapes_the_rest():
    text = "Intro <b>bold</b>. The two sides agreed to swap 314 prisoners. Outro <img src=x onerror=alert(1)>"
    out = highlight(text, "The two sides agreed to swap 314 prisoners.")
    assert "<mark>The two sides agreed to swap 314 prisoners.</mark>" in out
    assert "<b>" not in out and "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    # the quote differs only in whitespace: still highlighted
    assert "<mark>" in highlight("A  b\nc. D.", "A b c.")
    # a quote not in the text is shown on its own, escaped
    out = highlight("Some text.", "<i>other</i>")
    assert "<mark>&lt;i&gt;other&lt;/i&gt;</mark>" in out


def test_sources_html_lists_citations_or_marks_abstention():
    from rag.answer import Answer, Citation
    from rag.chunking import Chunk
    from rag.retrieval import Hit

    chunk = Chunk("c1", "a<b>.txt", "Head <script>x</script>", 0, 40, "Body. The quote <i>here</i>.", ((0, 5), (6, 28)))
    hit = Hit(chunk=chunk, score=0.5, rank=1, dense=0.5, bm25=1.0)
    cit = Citation(1, chunk.doc_id, chunk.title, chunk.chunk_id, 6, 28, "The quote <i>here</i>.", chunk.text)
    ok = sources_html(Answer("q", "x [1]", False, [cit], [hit], {}))
    assert '<span class="nr-n">[1]</span>' in ok and "<mark>The quote &lt;i&gt;here&lt;/i&gt;.</mark>" in ok
    assert "<script>" not in ok and "Head &lt;script&gt;x&lt;/script&gt;" in ok and "a&lt;b&gt;.txt" in ok
    no = sources_html(Answer("q", "I could not find the answer in the articles.", True, [], [hit], {}))
    assert "does not support an answer" in no and "nr-weak" in no and "<mark>" not in no


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win.md", "win.md"),
    ("My Article (final).HTML", "My_Article_final.html"),
    (".hidden.txt", "hidden.txt"),
    ("évènement.txt", "évènement.txt"),
    ("статья.txt", "статья.txt"),
    ("новость (1).txt", "новость_1.txt"),
    ("हिन्दी समाचार.txt", "हिन्दी_समाचार.txt"),  # the vowel signs are marks, kept with their letters
    ("\u0301\u0301x.txt", "x.txt"),
    ("...", "article"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


@pytest.fixture
def hash_pipeline(tmp_path):
    """A pipeline on the deterministic fake embedder and fake LLM (fast tests only)."""
    from rag.answer import Pipeline
    from rag.embedding import HashEmbedder
    from rag.indexing import build_index
    from rag.llm import FakeGenerator
    from rag.settings import Settings
    from rag.store import IndexStore, expected_manifest

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    s = Settings(index=tmp_path / "index", corpus=corpus, max_upload_mb=0.01)
    emb = HashEmbedder()
    build_index(s, emb, corpus, s.index, progress=False)
    store = IndexStore.load(s.index, expect=expected_manifest(s, emb.model_id))
    return Pipeline(s, store, emb, FakeGenerator(), s.index)


def test_upload_is_indexed_incrementally_inside_the_index_folder(hash_pipeline, tmp_path):
    pipe = hash_pipeline
    seed_ids = set(pipe.store.manifest["documents"])
    src = tmp_path / "incoming" / "Skerry Point!.txt"
    src.parent.mkdir()
    src.write_text(UPLOAD_ARTICLE)
    r = ArticleUploader(pipe, pipe.settings).add(src, "../../Skerry Point!.txt")
    assert r.doc_id == "uploads/Skerry_Point.txt" and not r.already and r.taken is None
    assert (pipe.index_dir / "uploads" / "Skerry_Point.txt").read_text() == UPLOAD_ARTICLE
    assert not (tmp_path / "Skerry_Point.txt").exists()
    docs = pipe.store.manifest["documents"]
    assert set(docs) == seed_ids | {"uploads/Skerry_Point.txt"}          # seed doc ids unchanged
    new_sentences = {(c.doc_id, a) for c in pipe.store.chunks if c.doc_id == "uploads/Skerry_Point.txt"
                     for a, _ in c.sentences}
    assert r.embedded == len(new_sentences)                               # only the new article embedded
    titles = {c.title for c in pipe.store.chunks}
    assert "Lighthouse keepers return to Skerry Point" in titles
    # the same upload again changes nothing, and says so
    again = ArticleUploader(pipe, pipe.settings).add(src, "Skerry Point!.txt")
    assert again.already and again.embedded == 0 and again.doc_id == "uploads/Skerry_Point.txt"


def test_upload_never_replaces_or_removes_another_article(hash_pipeline, tmp_path):
    pipe = hash_pipeline
    up = ArticleUploader(pipe, pipe.settings)
    uploads = pipe.index_dir / "uploads"
    first, other = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(UPLOAD_ARTICLE)
    other.write_text("Bakery wins prize\nThe Old Mill bakery won the county's bread prize for the third year running.\n")
    assert up.add(first, "article.txt").doc_id == "uploads/article.txt"
    # another article under a taken name is stored beside it, not over it
    r = up.add(other, "article.txt")
    assert r.doc_id == "uploads/article-2.txt" and r.taken == "uploads/article.txt" and not r.already
    assert (uploads / "article.txt").read_text() == UPLOAD_ARTICLE
    assert {"uploads/article.txt", "uploads/article-2.txt"} <= set(pipe.store.manifest["documents"])
    # a copy of an article the index holds, under a taken name: refused, and the article with that name stays
    seed = next(SEEDS.glob("*.txt"))
    with pytest.raises(UploadError, match="which the index already holds; nothing was added"):
        up.add(seed, "article.txt")
    assert (uploads / "article.txt").read_text() == UPLOAD_ARTICLE
    assert sorted(p.name for p in uploads.iterdir()) == ["article-2.txt", "article.txt"]
    assert {"uploads/article.txt", "uploads/article-2.txt"} <= set(pipe.store.manifest["documents"])
    # names in other scripts are kept, so two of them do not collide as "article.txt"
    third = tmp_path / "c.txt"
    third.write_text("Ferry timetable changes\nThe island ferry will sail twice a day from March, the operator said.\n")
    assert up.add(third, "статья.txt").doc_id == "uploads/статья.txt"


def _respond_of(pipe):
    """The chat's answer handler and its outputs, taken from the real app (no server, no browser)."""
    from ui.app import build_app

    demo = build_app(pipe, pipe.settings)
    fn = next(f for f in demo.fns.values() if f.name == "respond")
    return fn.fn, fn.outputs


@pytest.mark.parametrize("break_it", ["pipeline", "rendering", "early"])
def test_chat_controls_are_enabled_again_whatever_fails(hash_pipeline, monkeypatch, break_it):
    import ui.app

    pipe = hash_pipeline
    respond, outputs = _respond_of(pipe)
    if break_it == "pipeline":
        def broken(question, history=()):
            yield "a draft"
            raise RuntimeError("the model crashed")
        monkeypatch.setattr(pipe, "ask_stream", broken)
    elif break_it == "rendering":
        monkeypatch.setattr(ui.app, "_answer_markdown", lambda answer: 1 / 0)
    else:  # before the handler's own error reporting starts
        monkeypatch.setattr(ui.app, "escape_markdown", lambda text: 1 / 0)
    steps = list(respond("How many prisoners were swapped?", [], []))
    assert all(len(step) == len(outputs) for step in steps)
    last = steps[-1]
    enabled = [x for x in last if isinstance(x, dict) and "interactive" in x]
    assert len(enabled) == 1 + 2 + len(ui.app.EXAMPLES) and all(u["interactive"] is True for u in enabled)
    shown = " ".join(str(x) for step in steps for x in step)
    assert "Sorry, this question failed" in shown


def test_an_empty_question_leaves_the_conversation_and_its_sources_as_they_were(hash_pipeline):
    """An empty Ask added "(empty)" and "Please type a question." to the chat, once per click, and replaced the
    last answer's sources with the message: now a warning beside the box says it, and nothing else changes."""
    import gradio as gr

    respond, outputs = _respond_of(hash_pipeline)
    names = [getattr(c, "elem_id", None) or type(c).__name__ for c in outputs]
    chat, box, sources = names.index("nr-chat"), names.index("nr-question"), names.index("nr-sources")
    history = next(i for i, c in enumerate(outputs) if type(c).__name__ == "State")
    chat_before = [{"role": "user", "content": "How many?"}, {"role": "assistant", "content": "314 [1]"}]
    for empty in ("   ", "\u200b\u200b", ""):  # a zero-width space is nothing typed, too
        with pytest.warns(UserWarning, match="Please type a question"):  # a toast in the page; a warning here
            steps = list(respond(empty, chat_before, [("How many?", "314 [1]")]))
        for step in steps:
            for i in (chat, history, sources):
                assert step[i] == gr.skip(), step[i]
        assert steps[-1][box] == {"__type__": "update", "interactive": True}  # the controls enabled again


def test_the_examples_are_offered_only_when_the_index_holds_their_article(hash_pipeline, monkeypatch):
    from types import SimpleNamespace

    import ui.app

    def page(pipe):
        blocks = list(ui.app.build_app(pipe, pipe.settings).blocks.values())
        examples = [b.value for b in blocks if "nr-example" in (getattr(b, "elem_classes", None) or [])]
        [box] = [b for b in blocks if getattr(b, "elem_id", None) == "nr-question"]
        return examples, box.placeholder, any(getattr(b, "value", None) == "Try:" for b in blocks)

    assert ui.app.examples_for(hash_pipeline.store) == ui.app.EXAMPLES  # the seeds
    assert page(hash_pipeline) == (list(ui.app.EXAMPLES), f"Ask about the articles, e.g. {ui.app.EXAMPLES[0]}", True)
    other = SimpleNamespace(chunks=[SimpleNamespace(title="Chipmaker to build $4 billion plant")])
    assert ui.app.examples_for(other) == ()
    monkeypatch.setattr(ui.app, "EXAMPLES_ARTICLE", "An article this index does not hold")
    assert page(hash_pipeline) == ([], "Ask about the articles", False)


def test_upload_refuses_wrong_type_and_too_big(hash_pipeline, tmp_path):
    up = ArticleUploader(hash_pipeline, hash_pipeline.settings)   # limit 0.01 MB
    exe = tmp_path / "tool.exe"
    exe.write_text("MZ")
    with pytest.raises(UploadError, match="only .txt, .md, .html"):
        up.add(exe)
    big = tmp_path / "big.txt"
    big.write_text("Headline\n" + "word " * 5000)
    with pytest.raises(UploadError, match="limit is 0.01 MB"):
        up.add(big)
    assert not (hash_pipeline.index_dir / "uploads" / "big.txt").exists()


# -- the real app: rag serve as a subprocess, real models -------------------------------------------


def _build_index(corpus: Path, index: Path) -> Path:
    subprocess.run([str(RAG), "index", "--corpus", str(corpus), "--index", str(index), "-q"], check=True,
                   cwd=ROOT, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"}, capture_output=True)
    return index


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, log file) of `rag serve` on a tmp index of seeds/; one server for the module."""
    from ui.screenshot import running_server

    tmp = tmp_path_factory.mktemp("seed_app")
    index = _build_index(SEEDS, tmp / "index")
    with running_server(index, log_path=tmp / "serve.log") as url:
        yield url, tmp / "serve.log"


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    from ui.screenshot import running_server

    tmp = tmp_path_factory.mktemp("xss_app")
    corpus = tmp / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "bridge.txt").write_text(XSS_ARTICLE)
    index = _build_index(corpus, tmp / "index")
    with running_server(index, log_path=tmp / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from ui.screenshot import CHROMIUM, chromium

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) for browser tests")
    with chromium() as b:
        yield b


def _assert_swap_answer(d: dict):
    assert set(d) == {"question", "answer", "abstained", "citations", "passages", "timings_s"}
    assert not d["abstained"], d["answer"]
    assert "314" in d["answer"]
    assert any("314" in c["quote"] and "swap" in c["quote"] and c["quote"] in c["text"] for c in d["citations"])
    assert all(f"[{c['n']}]" in d["answer"] for c in d["citations"])


@pytest.mark.model
def test_serve_prints_its_local_url_on_loopback(served):
    import time

    url, log = served
    deadline = time.monotonic() + 60  # the HTTP server can answer a moment before launch() returns and prints
    while f"newsrag chat running on {url}" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"newsrag chat running on {url}" in log.read_text(), log.read_text()
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.model
def test_api_ask_returns_the_rag_ask_json(server):
    from gradio_client import Client

    d = Client(server, verbose=False).predict(SWAP_Q, api_name="/ask")
    _assert_swap_answer(d)
    assert d["question"] == SWAP_Q and d["passages"] and d["timings_s"]["total"] > 0


@pytest.mark.model
def test_api_bad_question_is_an_error_and_the_server_keeps_serving(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="Please type a question"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(Exception, match="limit is"):
        client.predict("x" * 5000, api_name="/ask")
    _assert_swap_answer(client.predict(SWAP_Q, api_name="/ask"))


@pytest.mark.model
def test_api_two_clients_at_once_both_get_answers(server):
    from gradio_client import Client

    def ask(_):
        return Client(server, verbose=False).predict(SWAP_Q, api_name="/ask")

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(ask, range(2)))
    for d in results:
        _assert_swap_answer(d)


@pytest.mark.model
@pytest.mark.browser
def test_browser_streams_the_answer_and_shows_cited_sources(server, browser, tmp_path):
    from ui.screenshot import ask_in_browser

    shot = tmp_path / "chat.png"
    cap = ask_in_browser(browser, server, SWAP_Q, shot)
    assert "314" in cap.answer_text and "[1]" in cap.answer_text, cap.answer_text
    # the answer arrived in steps (placeholder, then draft tokens) before the final text
    assert cap.states[-1] == cap.answer_text, cap.states
    drafts = [t for t in cap.states[:-1] if t != "…"]
    assert drafts, f"no draft was streamed before the final answer: {cap.states}"
    # ... marked as a draft: the checked answer may say something else, or refuse
    assert all(t.startswith("Draft, being checked against the articles:") for t in drafts), drafts
    assert "[1]" in cap.sources_text and "000_aa0e348396f8f4a1.txt" in cap.sources_text
    assert "Ukraine and Russia agree to swap prisoners" in cap.sources_text
    assert any("314" in m and "swap" in m for m in cap.marked), cap.marked
    assert shot.stat().st_size > 10_000


@pytest.mark.model
@pytest.mark.browser
def test_browser_follow_up_uses_the_conversation(server, browser):
    from ui.screenshot import BOT, ask_on_page, open_chat

    page = open_chat(browser, server)
    try:
        first = ask_on_page(page, SWAP_Q)
        assert "314" in first.answer_text
        # the question box has the focus back: the follow-up is typed straight away, as a user would
        page.wait_for_function("() => document.activeElement?.closest('#nr-question') !== null", timeout=5000)
        follow = ask_on_page(page, "Who brokered it?")
        assert page.locator(BOT).count() == 2
        # "Who brokered it?" alone names no event; with the history it is answered from the swap article
        assert "000_aa0e348396f8f4a1.txt" in follow.sources_text, follow.sources_text
        assert "Witkoff" in follow.answer_text, follow.answer_text  # the envoy who announced and brokered it
        assert "could not find" not in follow.answer_text.lower(), follow.answer_text
        assert "failed" not in follow.answer_text.lower(), follow.answer_text
    finally:
        page.close()


@pytest.mark.model
@pytest.mark.browser
def test_browser_one_answer_at_a_time_per_page(server, browser):
    """A second question sent while the first is answered used to start from the chat as it was and overwrite
    the first answer (an example button), or vanish (Enter, Ask): the page now disables them until it is in."""
    from playwright.sync_api import expect

    from ui.screenshot import BOT, USER, open_chat

    page = open_chat(browser, server)
    try:
        box, send = page.locator("#nr-question textarea"), page.locator("#nr-send")
        examples = page.locator(".nr-example")
        box.fill(SWAP_Q)
        box.press("Enter")
        expect(send).to_be_disabled(timeout=5_000)
        expect(box).to_be_disabled()
        for i in range(examples.count()):
            expect(examples.nth(i)).to_be_disabled()
        page.locator('#nr-sources [data-turn="1"]').wait_for(timeout=180_000)
        expect(send).to_be_enabled(timeout=30_000)
        expect(box).to_be_editable()
        examples.nth(1).click()  # "Where were the three-way talks held?"
        expect(send).to_be_disabled(timeout=5_000)
        page.locator('#nr-sources [data-turn="2"]').wait_for(timeout=180_000)
        expect(send).to_be_enabled(timeout=30_000)
        assert page.locator(USER).count() == 2 and page.locator(BOT).count() == 2
        assert "314" in page.locator(BOT).first.inner_text()  # the first answer is still there
        assert page.locator(BOT).last.inner_text().strip() not in ("", "…")
    finally:
        page.close()


@pytest.mark.model
@pytest.mark.browser
def test_browser_two_pages_asking_at_once_both_get_answers(server, browser):
    from ui.screenshot import BOT, USER, open_chat

    pages = [open_chat(browser, server) for _ in range(2)]
    try:
        for p in pages:
            p.locator("#nr-question textarea").fill(SWAP_Q)
        for p in pages:  # both submitted before either is answered
            p.locator("#nr-question textarea").press("Enter")
        for p in pages:
            p.locator(USER).first.wait_for()
        for p in pages:
            p.locator('#nr-sources [data-turn="1"]').wait_for(timeout=180_000)
            assert "314" in p.locator(BOT).last.inner_text()
    finally:
        for p in pages:
            p.close()


@pytest.mark.model
@pytest.mark.browser
def test_browser_upload_is_answerable_without_restart(server, browser, tmp_path):
    from gradio_client import Client

    from ui.screenshot import open_chat

    article = tmp_path / "lighthouse.txt"
    article.write_text(UPLOAD_ARTICLE)
    page = open_chat(browser, server)
    try:
        page.get_by_text("Add an article").click()
        page.locator("#nr-upload input[type=file]").set_input_files(str(article))
        page.wait_for_function(
            "() => /Added|Updated|Could not|only|limit/.test(document.querySelector('#nr-upload-msg')?.innerText ?? '')",
            timeout=180_000)
        msg = page.locator("#nr-upload-msg").inner_text()
        assert "uploads/lighthouse.txt" in msg, msg
        assert "2 articles" in page.locator("#nr-status").inner_text()
    finally:
        page.close()
    d = Client(server, verbose=False).predict("How many keepers did the authority hire?", api_name="/ask")
    assert not d["abstained"] and "7" in d["answer"], d["answer"]
    assert any(c["doc_id"] == "uploads/lighthouse.txt" for c in d["citations"])


@pytest.mark.model
@pytest.mark.browser
def test_browser_article_html_renders_inert(xss_server, browser, tmp_path):
    from ui.screenshot import ask_on_page, open_chat

    page = open_chat(browser, xss_server)
    try:
        cap = ask_on_page(page, "How much did the Harbour Bridge cost? <img src=x onerror=alert(9)>")
        page.screenshot(path=str(tmp_path / "xss.png"), full_page=True)
        chat = page.locator("#nr-chat").inner_text()
        # the markup is on the page as text (so the checks below are not vacuous) ...
        assert "<script>window.__nrPwned" in cap.sources_text and "onerror=" in cap.sources_text, cap.sources_text
        assert "<img src=x onerror=alert(9)>" in chat, chat
        # ... and as nothing else: no script ran, no element was injected
        assert page.evaluate("() => window.__nrPwned") is None
        assert page.locator("img[onerror], #nr-sources img, #nr-sources script, #nr-chat script").count() == 0
        assert page.locator("#nr-sources a, #nr-chat a[href^='javascript']").count() == 0
        assert page.nr_dialogs == []
    finally:
        page.close()
