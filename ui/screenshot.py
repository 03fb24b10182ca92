"""Drive the real chat in headless Chromium: ask a question, wait for the answer and sources, screenshot.

The browser test (tests/test_ui.py) and the README screenshot use the same
code, so the picture in ``docs/chat.png`` is what the test saw::

    python -m ui.screenshot --index index --out docs/chat.png

starts ``rag serve`` on a free port, asks "How many prisoners were swapped?",
saves the page, and stops the server. Chromium is Debian's (``/usr/bin/chromium``);
Playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ROOT = Path(__file__).resolve().parent.parent

# Records every text the last bot message shows, so a caller can see the answer arrive in pieces.
_WATCH_JS = """
() => {
  window.__nrStates = [];
  const record = () => {
    const bots = document.querySelectorAll('#nr-chat .message-row.bot-row, #nr-chat [data-testid="bot"]');
    if (!bots.length) return;
    const t = bots[bots.length - 1].innerText.trim();
    const s = window.__nrStates;
    if (t && s[s.length - 1] !== t) s.push(t);
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
  window.__nrDialogs = 0;
}
"""


@dataclass
class ChatCapture:
    answer_text: str
    sources_text: str
    marked: list[str]
    states: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 300) -> None:
    """Poll the server over HTTP until it answers 200 (or the process died, or time ran out)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s ({last})")


@contextlib.contextmanager
def running_server(index: Path, port: int | None = None, log_path: Path | None = None, env: dict | None = None):
    """``rag serve --index INDEX --port PORT`` as a subprocess; yields its URL, kills it on exit."""
    port = port or free_port()
    rag = Path(sys.executable).parent / "rag"
    cmd = [str(rag), "serve", "--index", str(index), "--port", str(port)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def ask_in_browser(browser, url: str, question: str, screenshot: Path | None = None,
                   timeout_ms: int = 180_000) -> ChatCapture:
    """Open the chat, type ``question``, wait for the final answer and the sources panel, return what shows."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.goto(url, wait_until="domcontentloaded")
        box = page.locator("#nr-question textarea")
        box.wait_for(timeout=timeout_ms)
        page.wait_for_function("() => !document.querySelector('#nr-status').innerText.includes('?')",
                               timeout=timeout_ms)
        page.evaluate(_WATCH_JS)
        box.fill(question)
        box.press("Enter")
        # the final answer has arrived when the sources panel lists passages (cited, or closest on abstention)
        page.wait_for_function(
            "() => document.querySelectorAll('#nr-sources .nr-source').length > 0"
            " || /failed|Please|limit/.test(document.querySelector('#nr-sources').innerText)",
            timeout=timeout_ms)
        bot = page.locator("#nr-chat .message-row.bot-row, #nr-chat [data-testid='bot']").last
        answer_text = bot.inner_text().strip()
        sources_text = page.locator("#nr-sources").inner_text()
        marked = page.locator("#nr-sources mark").all_inner_texts()
        states = page.evaluate("() => window.__nrStates || []")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        return ChatCapture(answer_text, sources_text, marked, states, dialogs, screenshot)
    finally:
        page.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Screenshot the chat answering a question (for the README).")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "chat.png")
    ap.add_argument("--question", default="How many prisoners were swapped?")
    ap.add_argument("--url", help="Use a running server instead of starting one.")
    args = ap.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server(args.index))
        browser = stack.enter_context(chromium())
        cap = ask_in_browser(browser, url, args.question, args.out)
    print(f"answer: {cap.answer_text!r}\nsaved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
