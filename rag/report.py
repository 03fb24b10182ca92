"""Reports of an evaluation run: the JSON report, the terminal table, plots and the HTML page.

All of them read only ``ItemResult`` lists and their ``summarize`` blocks; the
first variant of ``runs`` is the main one (its summary fills the JSON's fixed
keys, its questions the HTML table). rich and matplotlib are imported inside
the functions that use them, so importing this module stays cheap; the plots
are embedded as base64 PNGs, so the HTML page is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io

from rag.metrics import ItemResult, percentile, summarize


def build_report(runs: dict[str, list[ItemResult]], gold_set: str | None = None) -> dict:
    """The JSON report: the fixed keys describe the first variant; with several, ``variants`` holds each.

    ``gold_set`` (the gold file's name) is recorded so that reports of several gold sets can be drawn
    side by side (``rag eval --compare``)."""
    names = list(runs)
    first = runs[names[0]]
    report = {**summarize(first), "items": [r.to_dict() for r in first]}
    if gold_set:
        report["gold_set"] = gold_set
    if len(names) > 1:
        report["variants"] = {name: {**summarize(items), "items": [r.to_dict() for r in items]}
                              for name, items in runs.items()}
    return report


METRIC_ROWS = _ROWS = [("retrieval", "hit@1"), ("retrieval", "hit@5"), ("retrieval", "mrr@10"), ("retrieval", "doc_hit@5"),
         ("answer", "em"), ("answer", "f1"), ("answer", "contains"),
         ("citations", "precision"), ("citations", "recall"),
         ("abstention", "accuracy"), ("abstention", "false_abstain_rate"),
         ("latency_s", "p50"), ("latency_s", "p95")]


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def summary_table(summaries: dict[str, dict], title: str = "evaluation"):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("metric")
    for name in summaries:
        t.add_column(name, justify="right")
    for block, key in _ROWS:
        t.add_row(f"{block} {key}", *[_fmt(s[block][key]) for s in summaries.values()])
    first = next(iter(summaries.values()))
    t.caption = f"n = {first['n']} questions, {first['n_answerable']} answerable"
    return t


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_latency(runs: dict[str, list[ItemResult]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    lats = {name: [r.latency_s for r in items if r.error is None] for name, items in runs.items()}
    every = [x for v in lats.values() for x in v] or [0.0]
    n_bins = min(30, max(5, len(every) // (3 * len(lats))))
    bins = np.linspace(0.0, max(every) * 1.02 + 1e-3, n_bins + 1)  # the same bins for every variant
    for name, lat in lats.items():
        if lat:
            ax.hist(lat, bins=bins, alpha=0.55, label=f"{name} (p50 {percentile(lat, 50):.2f} s)")
    ax.set_xlabel("seconds per question (total)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    try:
        return _png(fig)
    finally:
        plt.close(fig)


def plot_metrics(summaries: dict[str, dict], title: str = "Metrics per variant") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in _ROWS if r[0] != "latency_s"]
    labels = [k for _, k in rows]
    fig, ax = plt.subplots(figsize=(9, 3.4))
    width = 0.8 / max(1, len(summaries))
    for i, (name, s) in enumerate(summaries.items()):
        vals = [s[b][k] if s[b][k] is not None else 0.0 for b, k in rows]
        ax.bar([x + i * width for x in range(len(rows))], vals, width, label=name)
    ax.set_xticks([x + width * (len(summaries) - 1) / 2 for x in range(len(rows))], labels, rotation=35, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("0..1 (n/a drawn as 0)")
    ax.set_title(title)
    ax.legend()
    try:
        return _png(fig)
    finally:
        plt.close(fig)


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.wrong{background:#fde2e2}.ok{background:#e3f6e3}
.abst{background:#fff4d6}.bad{color:#b00020;font-weight:bold}.good{color:#1b7a1b}.small{color:#666;font-size:12px}"""


def render_html(runs: dict[str, list[ItemResult]], title: str = "newsrag evaluation", meta: str = "",
                gold_sets: dict[str, dict] | None = None) -> str:
    """A self-contained HTML page: summary per variant, plots, and the first variant question by question.

    ``gold_sets`` maps a gold set's name to its summary (a report JSON's fixed keys); when given, a
    plot draws this run's first variant beside them, one group of bars per gold set."""
    esc = html.escape
    summaries = {name: summarize(items) for name, items in runs.items()}
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
           f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"]
    if meta:
        out.append(f"<p class='small'>{esc(meta)}</p>")
    out.append("<h2>Summary</h2><table><tr><th>metric</th>"
               + "".join(f"<th>{esc(n)}</th>" for n in summaries) + "</tr>")
    for block, key in _ROWS:
        out.append(f"<tr><td>{esc(block)} {esc(key)}</td>"
                   + "".join(f"<td class='num'>{_fmt(s[block][key])}</td>" for s in summaries.values()) + "</tr>")
    first = next(iter(summaries.values()))
    out.append(f"</table><p class='small'>n = {first['n']}, answerable = {first['n_answerable']}. "
               "n/a: no question to compute it on.</p>")
    out.append(f"<h2>Plots</h2><img alt='metrics per variant' src='data:image/png;base64,{plot_metrics(summaries)}'>"
               f"<br><img alt='latency distribution' src='data:image/png;base64,{plot_latency(runs)}'>")
    if gold_sets:
        per_set = {title.split(": ", 1)[-1]: first, **gold_sets}
        out.append(f"<br><img alt='metrics per gold set' "
                   f"src='data:image/png;base64,{plot_metrics(per_set, 'Metrics per gold set')}'>")
    name, items = next(iter(runs.items()))
    out.append(f"<h2>Questions ({esc(name)})</h2><p class='small'>Red rows: wrong answer (answerable with F1 &lt; 0.5, "
               "or unanswerable but answered). Yellow: abstained on an answerable question. "
               "Citations in red are not supported by the gold evidence.</p>")
    out.append("<table><tr><th>id</th><th>question</th><th>gold</th><th>answer</th><th>F1</th>"
               "<th>first relevant rank</th><th>citations</th><th>s</th></tr>")
    for r in items:
        if r.error:
            cls = "wrong"
        elif r.answerable and r.abstained:
            cls = "abst"
        elif (r.answerable and r.f1 < 0.5) or (not r.answerable and not r.abstained):
            cls = "wrong"
        else:
            cls = "ok"
        gold = " | ".join(r.answers) if r.answerable else "(unanswerable)"
        answer = f"error: {r.error}" if r.error else ("(abstained) " if r.abstained else "") + r.answer
        cites = "<br>".join(
            f"<span class='{'good' if ok else 'bad'}'>{'✓' if ok else '✗'} {esc(d)} {esc(c[:10])}</span>"
            for d, c, ok in zip(r.cited_doc_ids, r.cited_chunk_ids, r.citation_relevant))
        rank = next((str(i) for i, ok in enumerate(r.retrieved_relevant, 1) if ok), "–") if r.answerable else ""
        notes = "".join(f"<br><small>{esc(n)}</small>" for n in r.notes)
        out.append(f"<tr class='{cls}'><td>{esc(r.id)}</td><td>{esc(r.question)}</td><td>{esc(gold)}</td>"
                   f"<td>{esc(answer)}{notes}</td><td class='num'>{r.f1:.2f}</td><td class='num'>{rank}</td>"
                   f"<td>{cites}</td><td class='num'>{r.latency_s:.2f}</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
