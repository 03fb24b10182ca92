"""Drive the real chat in headless Chromium: ask a question, wait for the answer and sources, screenshot.

The browser test (tests/test_ui.py) and the README screenshot use the same
code, so the picture in ``ui/chat.png`` is what the test saw::

    python -m ui.screenshot --index index --out ui/chat.png

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
    const bots = document.querySelectorAll('#nr-chat [data-testid="bot"]');
    if (!bots.length) return;
    const t = bots[bots.length - 1].innerText.trim();
    const s = window.__nrStates;
    if (t && s[s.length - 1] !== t) s.push(t);
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
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


BOT = "#nr-chat [data-testid='bot']"
USER = "#nr-chat [data-testid='user']"


def open_chat(browser, url: str, timeout_ms: int = 180_000):
    """A new page on the chat, ready for a question; dialogs (alert, confirm) are recorded and dismissed."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.nr_dialogs = []

    def on_dialog(d):
        page.nr_dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#nr-question textarea").wait_for(timeout=timeout_ms)
    # the status line may render a moment after the question box: wait for it, and for its index line
    page.wait_for_function("() => /Index: \\d+ article/.test(document.querySelector('#nr-status')?.innerText ?? '')",
                           timeout=timeout_ms)
    page.evaluate(_WATCH_JS)
    return page


def ask_on_page(page, question: str, timeout_ms: int = 180_000) -> ChatCapture:
    """Type ``question``, wait until the sources panel belongs to this turn (the final answer), return what shows."""
    turn = page.locator(USER).count() + 1
    page.evaluate("() => { window.__nrStates = []; }")
    box = page.locator("#nr-question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator(f'#nr-sources [data-turn="{turn}"]').wait_for(timeout=timeout_ms)
    return ChatCapture(
        answer_text=page.locator(BOT).last.inner_text().strip(),
        sources_text=page.locator("#nr-sources").inner_text(),
        marked=page.locator("#nr-sources mark").all_inner_texts(),
        states=page.evaluate("() => window.__nrStates || []"),
        dialogs=list(page.nr_dialogs),
    )


def ask_in_browser(browser, url: str, question: str, screenshot: Path | None = None,
                   timeout_ms: int = 180_000) -> ChatCapture:
    """Open the chat, ask ``question``, wait for the final answer and the sources panel, optionally screenshot."""
    page = open_chat(browser, url, timeout_ms)
    try:
        cap = ask_on_page(page, question, timeout_ms)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            cap.screenshot = screenshot
        return cap
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
