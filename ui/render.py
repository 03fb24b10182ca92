"""Turn answers and passages into text the browser shows as text, never as markup.

Article and answer text comes from files anyone can drop into a corpus, so
every string that reaches the page goes through ``html.escape`` first. Chat
messages are Markdown in Gradio's Chatbot: after escaping HTML we also
backslash-escape Markdown punctuation, so a headline like ``[x](javascript:..)``
or ``![img](..)`` is shown literally instead of becoming a link or an image.
Gradio's own sanitizer stays on as a second line of defence, not the first.
"""

from __future__ import annotations

import html
import re

# Markdown punctuation that could start markup; '&' and ';' are left alone so html.escape's entities survive.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def escape_markdown(text: str) -> str:
    """Text for a Markdown slot that renders exactly as written (no HTML, links, images, LaTeX)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def highlight(text: str, quote: str) -> str:
    """Escaped ``text`` with the first occurrence of ``quote`` wrapped in <mark>."""
    at = text.find(quote) if quote else -1
    if at < 0 and quote:
        # the chunk may differ from the quote in whitespace only: match on a whitespace-flexible pattern
        pattern = r"\s+".join(re.escape(w) for w in quote.split())
        m = re.search(pattern, text) if pattern else None
        if m:
            at, end = m.start(), m.end()
        else:
            return f'<blockquote class="nr-quote"><mark>{esc(quote)}</mark></blockquote><div>{esc(text)}</div>'
    else:
        end = at + len(quote)
    if at < 0:
        return esc(text)
    return f"{esc(text[:at])}<mark>{esc(text[at:end])}</mark>{esc(text[end:])}"


def _open(turn: int | None, extra: str = "") -> str:
    # data-turn tells a browser test (or a script) which question this panel answers
    attr = f' data-turn="{int(turn)}"' if turn is not None else ""
    return f'<div class="nr-sources{extra}"{attr}>'


def sources_html(answer, turn: int | None = None) -> str:
    """The sources panel: only the cited passages, numbered like the answer's markers.

    On an abstention, the closest passages are listed and marked as not supporting an answer.
    """
    if answer is None:
        return empty_sources_html()
    if answer.abstained:
        parts = [_open(turn, " nr-abstained"),
                 '<p class="nr-note"><strong>No answer found in the articles.</strong> '
                 'The closest passages are shown below; they do <em>not</em> support an answer.</p>']
        for hit in answer.passages[:3]:
            c = hit.chunk
            parts.append(
                '<div class="nr-source nr-weak">'
                f'<div class="nr-head"><span class="nr-title">{esc(c.title)}</span> '
                f'<code class="nr-doc">{esc(c.doc_id)}</code> '
                '<span class="nr-badge">does not support an answer</span></div>'
                f'<div class="nr-text">{esc(c.text)}</div></div>')
        if not answer.passages:
            parts.append('<p class="nr-note">Nothing in the index is close to this question.</p>')
        parts.append("</div>")
        return "".join(parts)
    parts = [_open(turn)]
    for c in answer.citations:
        parts.append(
            f'<div class="nr-source" data-n="{int(c.n)}">'
            f'<div class="nr-head"><span class="nr-n">[{int(c.n)}]</span> '
            f'<span class="nr-title">{esc(c.title)}</span> <code class="nr-doc">{esc(c.doc_id)}</code></div>'
            f'<div class="nr-text">{highlight(c.text, c.quote)}</div></div>')
    if not answer.citations:
        parts.append('<p class="nr-note">This answer cites no passage.</p>')
    parts.append("</div>")
    return "".join(parts)


def empty_sources_html() -> str:
    return ('<div class="nr-sources"><p class="nr-note">Ask a question: the passages the answer cites '
            'appear here, with the supporting sentence highlighted.</p></div>')


def message_html(message: str, turn: int | None = None) -> str:
    return f'{_open(turn)}<p class="nr-note">{esc(message)}</p></div>'


def status_markdown(pipe) -> str:
    """One line about the live index: articles, chunks, models, build time."""
    m = pipe.store.manifest
    model = str(m.get("embed_model", "?")).rstrip("/").split("/")[-1]
    built = str(m.get("built_at", "?"))
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", built):
        built = built[:10] + " " + built[11:16] + " UTC"
    n_docs, n_chunks = m.get("n_docs", "?"), m.get("n_chunks", "?")
    line = (f"Index: {n_docs} article{'' if n_docs == 1 else 's'}, {n_chunks} chunk{'' if n_chunks == 1 else 's'} · "
            f"embeddings {model} · LLM {pipe.generator.name} · built {built}")
    return escape_markdown(line)


CSS = """
.nr-sources { font-size: 0.95rem; line-height: 1.45; }
.nr-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin-bottom: 10px; }
.nr-head { margin-bottom: 6px; }
.nr-n { font-weight: 700; margin-right: 4px; }
.nr-title { font-weight: 600; }
.nr-doc { font-size: 0.8rem; opacity: 0.75; }
.nr-text { white-space: pre-wrap; }
.nr-text mark, .nr-quote mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 2px; }
.nr-weak { opacity: 0.8; border-style: dashed; }
.nr-badge { font-size: 0.75rem; background: #fee2e2; color: #991b1b; padding: 1px 6px; border-radius: 8px; }
.nr-note { opacity: 0.85; }
"""
