"""The evaluation harness: metrics against hand-computed cases, gold validation, the report, end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.evaluate import run_cli
from rag.gold import GoldFormatError, GoldItem, check_gold_against_corpus, find_loose, parse_gold_file, read_gold, sample_gold
from rag.metrics import (
    ItemResult, best_f1, chunk_relevant, contains_answer, exact_match, percentile, reciprocal_rank, score_answer,
    span_relevant, summarize,
)
from rag.report import build_report, render_html
from rag.text import squad_normalize, token_f1

from conftest import ROOT, SEED_DOC, SEEDS

FIXED_KEYS = {"n", "n_answerable", "retrieval", "answer", "citations", "abstention", "latency_s", "items"}
PRISONERS = {"id": "p", "question": "How many prisoners did Ukraine and Russia swap?", "answers": ["314"],
             "doc": SEED_DOC, "evidence": "The two sides agreed to swap 314 prisoners", "answerable": True}
FRANCE = {"id": "u", "question": "What is the capital of France?", "answers": [], "doc": None, "evidence": None,
          "answerable": False}
LOAN = {"id": "l", "question": "How big is the loan the European Union agreed to provide to Kyiv?",
        "answers": ["€90 billion", "90 billion"], "doc": SEED_DOC,
        "evidence": "provide Kyiv with a €90 billion ($106 billion) loan", "answerable": True}


def write_gold(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def gold_item(**kw) -> GoldItem:
    base = dict(id="g", question="q?", answers=("314",), doc="a.txt", evidence="e", answerable=True)
    base.update(kw)
    return GoldItem(**base)


# -- metric functions ---------------------------------------------------------------

def test_squad_normalization_and_exact_match():
    assert squad_normalize("The  Cat's, hat!") == "cats hat"
    assert squad_normalize("An apple — a day") == "apple day"
    assert exact_match("The 314.", ["300", "314"]) == 1.0
    assert exact_match("314 prisoners", ["314"]) == 0.0


def test_f1_counts_repeated_tokens_once_per_gold_occurrence():
    # pred [cat, cat, cat] vs gold [cat, sat]: 1 common token, P = 1/3, R = 1/2, F1 = 0.4
    assert token_f1("the cat cat cat", "cat sat") == pytest.approx(0.4)
    assert token_f1("cat cat", "cat cat sat") == pytest.approx(0.8)  # P = 1, R = 2/3
    assert best_f1("cat cat cat", ["dog", "cat sat"]) == pytest.approx(0.4)
    assert best_f1("anything", []) == 0.0


def test_contains_matches_whole_normalized_words():
    assert contains_answer("They swapped 314 prisoners [1]", ["314 Prisoners"]) == 1.0
    assert contains_answer("3145 prisoners", ["314"]) == 0.0
    assert contains_answer("The €90 billion loan", ["€90 billion", "ninety"]) == 1.0
    assert contains_answer("no", []) == 0.0


def test_mrr_at_10():
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([True]) == 1.0
    assert reciprocal_rank([False] * 10 + [True]) == 0.0  # rank 11 is past the depth
    assert reciprocal_rank([]) == 0.0


def test_half_evidence_overlap_rule():
    ev = (100, 140)  # 40 characters of evidence
    assert span_relevant(0, 120, *ev)        # covers 20 of 40: exactly half
    assert not span_relevant(0, 119, *ev)    # 19 of 40
    assert span_relevant(130, 300, *ev) is False  # 10 of 40
    assert span_relevant(110, 130, *ev)      # 20 of 40, inside the evidence
    assert span_relevant(50, 200, *ev)       # covers all of it
    assert not span_relevant(140, 200, *ev)  # touches the end only
    g = gold_item(doc="a.txt")
    assert chunk_relevant("a.txt", 0, 120, g, ev)
    assert not chunk_relevant("b.txt", 0, 120, g, ev)                   # same offsets, other article
    assert chunk_relevant("a.txt", 500, 600, g, None)                   # evidence in the headline: any chunk of the doc
    assert not chunk_relevant("a.txt", 0, 120, gold_item(answerable=False, doc=None, answers=()), ev)


def test_percentile_interpolates():
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([], 50) is None


def _result(answerable=True, abstained=False, **kw) -> ItemResult:
    return ItemResult(id=kw.pop("id", "x"), question="q", answerable=answerable,
                      answers=["a"] if answerable else [], doc="a.txt" if answerable else None,
                      abstained=abstained, **kw)


def test_abstention_counting():
    items = [_result(False, True), _result(False, False),                      # 1 of 2 unanswerable declined
             _result(True, True), _result(True, False), _result(True, False)]  # 1 of 3 answerable declined
    s = summarize(items)["abstention"]
    assert s["accuracy"] == 0.5
    assert s["false_abstain_rate"] == pytest.approx(1 / 3, abs=1e-4)
    only_answerable = summarize(items[2:])
    assert only_answerable["abstention"]["accuracy"] is None
    assert only_answerable["n"] == 3 and only_answerable["n_answerable"] == 3
    only_unanswerable = summarize(items[:2])
    assert only_unanswerable["answer"]["f1"] is None and only_unanswerable["retrieval"]["hit@1"] is None


def test_retrieval_metrics_from_relevance_flags():
    items = [_result(retrieved_relevant=[True, False], retrieved_doc_hit=[True, True]),
             _result(retrieved_relevant=[False, False, False, True], retrieved_doc_hit=[False, False, False, True]),
             _result(retrieved_relevant=[False] * 5 + [True], retrieved_doc_hit=[False] * 5 + [True]),
             _result(False, retrieved_relevant=[False], retrieved_doc_hit=[False])]  # unanswerable: not counted
    r = summarize(items)["retrieval"]
    assert r["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["mrr@10"] == pytest.approx((1 + 1 / 4 + 1 / 6) / 3, abs=1e-4)
    assert r["doc_hit@5"] == pytest.approx(2 / 3, abs=1e-4)


def test_citation_precision_and_recall_with_mixed_citations():
    cite = lambda chunk_id, doc_id: SimpleNamespace(chunk_id=chunk_id, doc_id=doc_id)  # noqa: E731
    spans = {"rel": ("a.txt", 0, 200, "The two sides agreed to swap prisoners."),  # covers the evidence
             "far": ("a.txt", 500, 700, "Talks continued in Abu Dhabi."),           # same doc, elsewhere
             "other": ("b.txt", 0, 200, "Elsewhere, 314 prisoners went home."),     # other doc, has the answer
             "none": ("b.txt", 200, 400, "Nothing useful here.")}
    g = gold_item(id="a", answers=("314",), doc="a.txt")
    a = score_answer(g, (50, 100), "314 [1]", False, [cite("rel", "a.txt"), cite("far", "a.txt"),
                                                      cite("other", "b.txt")], [], 0.1, spans)
    b = score_answer(gold_item(id="b"), (50, 100), "wrong [1]", False, [cite("none", "b.txt")], [], 0.1, spans)
    c = score_answer(gold_item(id="c"), (50, 100), "", True, [], [], 0.1, spans)
    u = score_answer(gold_item(id="u", answerable=False, doc=None, answers=(), evidence=None), None, "x [1]", False,
                     [cite("none", "b.txt")], [], 0.1, spans)  # unanswerable: its citation is wrong
    assert a.citation_relevant == [True, False, True]
    assert b.citation_relevant == [False]
    s = summarize([a, b, c, u])
    assert u.citation_relevant == [False]
    assert s["citations"]["precision"] == pytest.approx(2 / 5)   # 2 relevant of 5 citations, the unanswerable's too
    assert s["citations"]["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert (a.em, a.f1, a.contains) == (1.0, 1.0, 1.0)
    assert (c.em, c.f1, c.contains) == (0.0, 0.0, 0.0)  # an abstention scores 0
    assert s["answer"]["em"] == pytest.approx(1 / 3, abs=1e-4)
    assert summarize([c])["citations"]["precision"] is None     # nothing cited: undefined, not 0


def test_answer_markers_are_stripped_before_scoring():
    r = score_answer(gold_item(answers=("314 prisoners",)), None, "314 prisoners [1] [2]", False, [], [], 0.0, {})
    assert r.em == 1.0


def test_split_modules_are_re_exported_from_rag_evaluate():
    import rag.evaluate
    import rag.gold
    import rag.metrics
    import rag.report

    for mod in (rag.gold, rag.metrics, rag.report):
        for name, obj in vars(mod).items():
            if not name.startswith("_") and getattr(obj, "__module__", mod.__name__) == mod.__name__ \
                    and (callable(obj) or name.isupper()):
                assert getattr(rag.evaluate, name) is obj, f"{mod.__name__}.{name}"


def test_sample_is_seeded_and_keeps_file_order():
    items = [gold_item(id=str(i)) for i in range(20)]
    a, b = sample_gold(items, 5, seed=1), sample_gold(items, 5, seed=1)
    assert [i.id for i in a] == [i.id for i in b]
    assert [int(i.id) for i in a] == sorted(int(i.id) for i in a)
    assert [i.id for i in sample_gold(items, 5, seed=2)] != [i.id for i in a]
    assert len(sample_gold(items, None, 0)) == 20


# -- gold validation ----------------------------------------------------------------

def test_gold_format_problems_are_reported_line_by_line(tmp_path):
    rows = [
        PRISONERS,
        {**PRISONERS, "id": "p2", "extra": 1},
        {k: v for k, v in PRISONERS.items() if k != "evidence"},
        {**PRISONERS, "id": "p3", "answers": "314"},
        {**PRISONERS, "id": "p4", "answers": []},
        {**FRANCE, "id": "u2", "doc": SEED_DOC},
        "{not json",
        "",
        {**PRISONERS},                                    # duplicate id
        {**PRISONERS, "id": "p5", "answerable": "yes"},
        [1, 2],
    ]
    with pytest.raises(GoldFormatError) as e:
        read_gold(write_gold(tmp_path / "g.jsonl", rows))
    msgs = e.value.problems
    expected = [
        ("line 2", "unknown key(s) extra"),
        ("line 3", "missing key(s) evidence"),
        ("line 4", "'answers' must be a list of non-empty strings"),
        ("line 5", "answerable item has no answers"),
        ("line 6", "unanswerable item must have \"doc\": null"),
        ("line 7", "not valid JSON"),
        ("line 9", "duplicate id 'p' (first on line 1)"),
        ("line 10", "'answerable' must be true or false"),
        ("line 11", "expected a JSON object, got list"),
    ]
    assert len(msgs) == len(expected), msgs
    for (line, text), msg in zip(expected, msgs):
        assert msg.startswith(line + ":") or msg.startswith(line + " "), msg
        assert text in msg, msg


def test_gold_checked_against_the_corpus(tmp_path):
    items = read_gold(write_gold(tmp_path / "g.jsonl", [
        PRISONERS,
        {**PRISONERS, "id": "ws", "evidence": "The two   sides agreed\nto swap"},           # whitespace differs
        {**PRISONERS, "id": "head", "evidence": "agree to swap prisoners as talks advance"},  # in the headline
        {**PRISONERS, "id": "bad", "evidence": "The two sides agreed to swap 315 prisoners"},
        {**PRISONERS, "id": "nodoc", "doc": "missing.txt"},
        FRANCE,
    ]))
    spans, problems = check_gold_against_corpus(items, SEEDS)
    assert len(problems) == 2
    assert "line 4 (id 'bad'): evidence not found in " + SEED_DOC in problems[0]
    assert "line 5 (id 'nodoc'): unknown doc 'missing.txt'" in problems[1]
    from rag.documents import load_corpus

    body = load_corpus(SEEDS).documents[0].text
    a, b = spans["p"]
    assert body[a:b] == PRISONERS["evidence"]
    assert spans["ws"][0] == a
    assert spans["head"] is None and "u" not in spans
    assert find_loose("a  b\nc", "b c") == (3, 6)


def test_bad_gold_file_exits_2_before_loading_anything(tmp_path, capsys, monkeypatch):
    import rag.answer

    def boom(*a, **k):
        raise AssertionError("the pipeline must not load for a bad gold file")

    monkeypatch.setattr(rag.answer.Pipeline, "from_settings", boom)
    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS, {**PRISONERS, "id": "x", "evidence": "never said"}])
    from rag.settings import Settings

    code = run_cli(gold=gold, corpus=SEEDS, index=None, out=tmp_path / "r.json", html=None, limit=None, seed=0,
                   variants=[], settings=Settings())
    assert code == 2
    err = capsys.readouterr().err
    assert "line 2 (id 'x'): evidence not found" in err
    assert not (tmp_path / "r.json").exists()


def test_shipped_gold_sets_are_valid():
    xquad = ROOT / "eval" / "xquad"
    items = read_gold(xquad / "gold.jsonl")
    assert len(items) == 1190
    spans, problems = check_gold_against_corpus(items, xquad / "corpus")
    assert problems == []
    seed_items = read_gold(ROOT / "eval" / "seed_gold.jsonl")
    assert len(seed_items) >= 20 and sum(not g.answerable for g in seed_items) >= 5
    _, problems = check_gold_against_corpus(seed_items, SEEDS)
    assert problems == []


# -- report and end to end with fakes ---------------------------------------------

@pytest.fixture
def fake_models(monkeypatch, hash_embedder):
    """run_cli with the hash embedder and a queued-reply LLM instead of MiniLM, SmolLM2 and the answer scorer."""
    import rag.embedding
    import rag.llm
    from rag.llm import FakeGenerator

    gen = FakeGenerator(["314 prisoners [1]", "not in the articles", "€90 billion [1]"])
    monkeypatch.setattr(rag.embedding, "make_embedder", lambda s: hash_embedder)
    monkeypatch.setattr(rag.llm, "make_generator", lambda s: gen)
    monkeypatch.setattr(rag.llm, "make_scorer", lambda s: None)  # the queued replies rank nothing
    return gen


def test_run_cli_writes_report_with_fixed_keys_and_html(tmp_path, monkeypatch, fake_models, capsys):
    from rag.settings import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS, {**FRANCE, "question": "<b>capital</b> of France?"}, LOAN])
    s = Settings(chunk_tokens=60, chunk_overlap=15, min_evidence=0.0, min_coverage=0.0)
    out, page = tmp_path / "r" / "report.json", tmp_path / "r" / "report.html"
    code = run_cli(gold=gold, corpus=SEEDS, index=None, out=out, html=page, limit=None, seed=0,
                   variants=["hybrid", "noverify"], settings=s)
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == FIXED_KEYS | {"variants", "gold_set"} and report["gold_set"] == "g.jsonl"
    assert set(report["variants"]) == {"hybrid", "noverify"}
    assert report["n"] == 3 and report["n_answerable"] == 2
    assert set(report["retrieval"]) == {"hit@1", "hit@5", "mrr@10", "doc_hit@5"}
    assert set(report["answer"]) == {"em", "f1", "contains"}
    assert set(report["citations"]) == {"precision", "recall"}
    assert set(report["abstention"]) == {"accuracy", "false_abstain_rate"}
    assert set(report["latency_s"]) == {"p50", "p95"}
    # a one-article corpus: every retrieved chunk is from the gold doc
    assert report["retrieval"]["doc_hit@5"] == 1.0
    for block in ("retrieval", "answer", "citations", "abstention", "latency_s"):
        for v in report[block].values():
            assert v is None or 0.0 <= v <= 1.0 or block == "latency_s"
    item = report["items"][0]
    for key in ("question", "answers", "answer", "abstained", "cited_doc_ids", "cited_chunk_ids",
                "citation_relevant", "cited_quotes", "notes", "f1", "latency_s"):
        assert key in item
    assert len(item["cited_quotes"]) == len(item["cited_chunk_ids"])
    assert item["question"] == PRISONERS["question"] and item["answers"] == ["314"]
    # the index is cached by corpus path and reused on the next run
    assert len(list((tmp_path / "cache" / "newsrag").iterdir())) == 1
    text = page.read_text()
    assert "data:image/png;base64," in text and "&lt;b&gt;capital&lt;/b&gt;" in text and "<b>capital" not in text
    out_text = capsys.readouterr().out
    assert "hit@1" in out_text and "hybrid" in out_text and "noverify" in out_text
    # a second gold set, drawn beside the first one's report
    gold2 = write_gold(tmp_path / "g2.jsonl", [LOAN, PRISONERS])
    page2 = tmp_path / "r" / "both.html"
    assert run_cli(gold=gold2, corpus=SEEDS, index=None, out=None, html=page2, limit=None, seed=0, variants=[],
                   settings=s, compare=[out]) == 0
    assert "alt='metrics per gold set'" in page2.read_text()
    assert "alt='metrics per gold set'" not in text
    assert run_cli(gold=gold2, corpus=SEEDS, index=None, out=None, html=page2, limit=None, seed=0, variants=[],
                   settings=s, compare=[gold2]) == 2  # a gold file is not a report
    (tmp_path / "list.json").write_text("[1, 2]")
    assert run_cli(gold=gold2, corpus=SEEDS, index=None, out=None, html=page2, limit=None, seed=0, variants=[],
                   settings=s, compare=[tmp_path / "list.json"]) == 2
    assert run_cli(gold=gold2, corpus=SEEDS, index=None, out=None, html=None, limit=None, seed=0, variants=[],
                   settings=s, compare=[out]) == 2  # nothing to draw into
    # the same gold set before and after a change: both bars are drawn, neither replaces the other
    assert run_cli(gold=gold, corpus=SEEDS, index=None, out=None, html=page2, limit=None, seed=0, variants=[],
                   settings=s, compare=[out, out]) == 0


def test_single_variant_report_has_exactly_the_fixed_keys(tmp_path, monkeypatch, fake_models):
    from rag.settings import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS, FRANCE, LOAN])
    out = tmp_path / "report.json"
    s = Settings(chunk_tokens=60, chunk_overlap=15, min_evidence=0.0, min_coverage=0.0)
    assert run_cli(gold=gold, corpus=SEEDS, index=None, out=out, html=None, limit=2, seed=3, variants=[],
                   settings=s) == 0
    report = json.loads(out.read_text())
    assert set(report) == FIXED_KEYS | {"gold_set"}
    assert report["n"] == 2 and len(report["items"]) == 2


def test_unknown_variant_and_missing_source_exit_2(tmp_path):
    from rag.settings import Settings

    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS])
    kw = dict(gold=gold, out=None, html=None, limit=None, seed=0, settings=Settings())
    assert run_cli(corpus=SEEDS, index=None, variants=["fast"], **kw) == 2
    assert run_cli(corpus=None, index=None, variants=[], **kw) == 2


def test_html_escapes_and_marks_wrong_answers():
    wrong = _result(id="w", answer="<script>x</script>", f1=0.0, cited_doc_ids=["d<1>"], cited_chunk_ids=["c"],
                    citation_relevant=[False], notes=["removed unsupported answer: '<i>1</i>'"])
    right = _result(id="r", answer="a", f1=1.0, em=1.0, cited_doc_ids=["d"], cited_chunk_ids=["c"],
                    citation_relevant=[True])
    page = render_html({"hybrid": [wrong, right]})
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("<tr class='wrong'>") == 1 and page.count("<tr class='ok'>") == 1
    assert "class='bad'>✗ d&lt;1&gt;" in page
    # what verification did is shown under the answer, escaped like it
    assert "<small>removed unsupported answer: &#x27;&lt;i&gt;1&lt;/i&gt;&#x27;</small>" in page
    assert build_report({"a": [wrong]})["n"] == 1


# -- real models ------------------------------------------------------------------------

@pytest.mark.model
def test_end_to_end_on_the_seed_with_real_models(tmp_path, seed_index_real, real_embedder, real_generator):
    from rag.answer import Pipeline
    from rag.evaluate import evaluate_variant
    from rag.store import IndexStore, expected_manifest

    s = seed_index_real
    seed_gold = ROOT / "eval" / "seed_gold.jsonl"
    rows = [PRISONERS, FRANCE, LOAN]
    gold = read_gold(write_gold(tmp_path / "g.jsonl", rows))
    gold += [g for g in read_gold(seed_gold) if g.doc in (SEED_DOC, None)][:3]
    spans, problems = check_gold_against_corpus(gold, SEEDS)
    assert problems == []
    store = IndexStore.load(s.index, expect=expected_manifest(s, real_embedder.model_id))
    pipe = Pipeline(s, store, real_embedder, real_generator, s.index)
    results = evaluate_variant(pipe, gold, spans, "hybrid", True)
    report = build_report({"hybrid": results})
    assert set(report) == FIXED_KEYS
    prisoners = results[0]
    assert any(prisoners.retrieved_relevant[:5]), prisoners.retrieved_chunk_ids  # the gold sentence's chunk is found
    assert report["retrieval"]["doc_hit@5"] == 1.0  # one-article corpus
    assert not prisoners.abstained and prisoners.contains == 1.0, prisoners.answer
    assert any(prisoners.citation_relevant)
    assert report["latency_s"]["p50"] > 0


def test_rag_eval_command_reports_bad_gold_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from rag.cli import app

    gold = write_gold(tmp_path / "g.jsonl", [{**PRISONERS, "doc": "nope.txt"}, {**FRANCE, "answers": ["Paris"]}])
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--corpus", str(SEEDS)])
    assert result.exit_code == 2, result.output
    out = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert "line 1 (id 'p'): unknown doc 'nope.txt'" in out
    assert "line 2 (id 'u'): unanswerable item must have \"answers\": []" in out


@pytest.mark.model
def test_rag_eval_command_end_to_end_with_the_real_models(tmp_path):
    """`rag eval` as a user runs it: the real entry point, the bundled models, an index built for the corpus."""
    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS, FRANCE, LOAN])
    out, page = tmp_path / "report.json", tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "rag", "eval", "--gold", str(gold), "--corpus", str(SEEDS),
                           "--out", str(out), "--html", str(page)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report) == FIXED_KEYS | {"gold_set"} and report["n"] == 3 and report["n_answerable"] == 2
    prisoners = next(i for i in report["items"] if i["question"] == PRISONERS["question"])
    assert not prisoners["abstained"] and prisoners["contains"] == 1.0 and any(prisoners["citation_relevant"])
    assert report["retrieval"]["hit@5"] == 1.0
    assert "hit@1" in proc.stdout and "data:image/png;base64," in page.read_text()


def test_report_subset_drops_the_named_samples_and_recomputes_the_metrics(tmp_path, capsys):
    import importlib.util
    import json as _json
    from pathlib import Path as _Path

    spec = importlib.util.spec_from_file_location("report_subset", _Path(__file__).parents[1] / "eval/report_subset.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"q{i}", "question": f"Question {i}?", "answers": ["x"], "doc": "d.txt", "evidence": "x",
             "answerable": True} for i in range(6)]
    gold.write_text("".join(_json.dumps(r) + "\n" for r in rows))
    from rag.gold import read_gold, sample_gold

    dropped = {g.id for g in sample_gold(read_gold(gold), 2, 0)}
    items = [{"id": f"q{i}", "question": f"Question {i}?", "answerable": True, "answers": ["x"], "doc": "d.txt",
              "abstained": False, "f1": 1.0 if f"q{i}" in dropped else 0.0, "latency_s": 1.0} for i in range(6)]
    report = tmp_path / "r.json"
    report.write_text(_json.dumps({"items": items}))
    assert mod.main([str(report), "--gold", str(gold), "--exclude", "2:0"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["kept"] == 4 and out["dropped"] == 2
    assert out["answer"]["f1"] == 0.0  # only the kept questions count
    assert mod.main([str(report), "--gold", str(gold), "--only", "2:0"]) == 0  # and the other way round
    out = _json.loads(capsys.readouterr().out)
    assert out["kept"] == 2 and out["answer"]["f1"] == 1.0


def _calibrate_module(name="calibrate_abstention"):
    import importlib.util
    from pathlib import Path as _Path

    path = _Path(__file__).parents[1] / f"eval/{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_calibration_recovers_the_coverage_weight_the_data_were_made_with():
    import numpy as np

    mod = _calibrate_module()
    rng = np.random.default_rng(0)
    cos, cov = rng.uniform(0.2, 0.9, 6000), rng.uniform(0.0, 1.0, 6000)
    # answerable exactly when cosine + 0.5 × coverage, plus logistic noise, clears 0.75
    answerable = cos + 0.5 * cov + rng.logistic(0, 0.03, 6000) > 0.75
    rows = np.c_[cos, cov, np.zeros(6000)]
    _, weight = mod.fit_weight(rows[answerable], rows[~answerable])
    assert 0.4 <= weight <= 0.6, weight


def test_the_trade_off_refuses_more_as_the_threshold_rises_and_always_when_a_name_is_missing():
    import numpy as np

    mod = _calibrate_module()
    pos = np.array([[0.9, 0.8, 0], [0.7, 0.5, 0], [0.95, 1.0, 1]])  # the last: a name asked about is missing
    neg = np.array([[0.3, 0.1, 0], [0.6, 0.4, 0]])
    table = mod.trade_off(pos, neg, 0.5, [0.0, 0.8, 1.0, 2.0])
    assert [round(fa, 3) for _, fa, _ in table] == [0.333, 0.333, 0.667, 1.0]
    assert [ab for _, _, ab in table] == [0.0, 0.5, 1.0, 1.0]  # 0.6 + 0.5 × 0.4 = 0.8 is not under 0.8


@pytest.mark.model
def test_calibration_features_of_a_question_the_seed_answers_and_one_it_cannot(seed_index_real, real_embedder):
    from rag.store import IndexStore

    mod = _calibrate_module()
    store = IndexStore.load(seed_index_real.index)
    cos, cov, missing = mod.features(store, real_embedder, seed_index_real, "How many prisoners did Ukraine and Russia swap?")
    assert cos > 0.5 and cov > 0.5 and not missing
    *_, missing = mod.features(store, real_embedder, seed_index_real, "What is the capital of France?")
    assert missing  # "France" is in no retrieved passage


def _floor_rows():
    # answerable: right (score 0.5), right but unsure (-2.2), wrong (-2.6), refused already; unanswerable: -3, -2.4, 0.2
    rows = [{"answerable": True, "abstained": False, "f1": 1.0, "score": 0.5, "coverage": 1.0},
            {"answerable": True, "abstained": False, "f1": 0.8, "score": -2.2, "coverage": 1.0},
            {"answerable": True, "abstained": False, "f1": 0.0, "score": -2.6, "coverage": 0.5},
            {"answerable": True, "abstained": True, "f1": 0.0, "score": None, "coverage": None}]
    return rows + [{"answerable": False, "abstained": False, "f1": 0.0, "score": s, "coverage": 0.5}
                   for s in (-3.0, -2.4, 0.2)]


def test_the_span_floor_trade_off_counts_right_answers_kept_and_unanswerable_refused():
    mod = _calibrate_module("calibrate_span_floor")
    off, low, mid, high = mod.trade_off(_floor_rows(), [float("-inf"), -2.5, -2.0, 1.0])
    assert (off["false_abstain"], off["unanswerable_refused"], off["utility"]) == (0.25, 0.0, 2 - 3)
    assert (low["false_abstain"], low["right_kept"], round(low["unanswerable_refused"], 3)) == (0.5, 1.0, 0.333)
    assert low["f1"] == pytest.approx((1.0 + 0.8) / 4)
    assert (mid["right_kept"], round(mid["unanswerable_refused"], 3), mid["utility"]) == (0.5, 0.667, 1 - 1)
    assert (high["false_abstain"], high["unanswerable_refused"], high["utility"]) == (1.0, 1.0, 0)


def test_the_span_floor_chosen_is_the_lowest_of_the_best_utility():
    mod = _calibrate_module("calibrate_span_floor")
    # -2.75 … -2.25 refuse the -3.0 and (from -2.25 on) the -2.4 unanswerable and keep both right answers
    assert mod.choose_floor([_floor_rows()], [-3.5, -2.75, -2.25, -2.0, 0.0, 1.0]) == -2.25
    # ... among the floors that keep 97% of every pool's right answers: one right at -2.5 elsewhere rules out -2.25
    other = [{"answerable": True, "abstained": False, "f1": 1.0, "score": -2.5, "coverage": 0.0}]
    assert mod.choose_floor([_floor_rows(), other], [-3.5, -2.75, -2.25, -2.0, 0.0, 1.0]) == -2.75
    # with coverage weighed in, the right answers' sentences (coverage 1.0) stand 0.5 × weight above the rest
    assert mod.trade_off(_floor_rows(), [-1.4], weight=2.0)[0]["right_kept"] == 1.0  # -2.2 + 2 = -0.2
    assert mod.refused(_floor_rows(), -1.4, weight=2.0).tolist() == [False, False, True, True, True, False, False]


def test_the_coverage_weight_fitted_is_the_one_the_data_were_made_with():
    import numpy as np

    mod = _calibrate_module("calibrate_span_floor")
    rng = np.random.default_rng(1)
    score, cov = rng.normal(-1.5, 1.5, 6000), rng.uniform(0.0, 1.0, 6000)
    # answered right exactly when score + 2 × coverage, plus logistic noise, clears -0.5; else unanswerable
    right = score + 2.0 * cov + rng.logistic(0, 0.1, 6000) > -0.5
    rows = [{"answerable": bool(r), "abstained": False, "f1": float(r), "score": float(s), "coverage": float(c)}
            for r, s, c in zip(right, score, cov)]
    assert 1.8 <= mod.fit_weight(rows) <= 2.2


def test_a_gold_doc_the_index_skipped_as_a_copy_is_scored_as_the_kept_one(tmp_path):
    from rag.documents import load_corpus
    from rag.evaluate import indexed_copies

    story = "Swap agreed\n\nThe two sides agreed to swap 314 prisoners on Thursday.\n"
    (tmp_path / "a.txt").write_text(story)
    (tmp_path / "b.txt").write_text(story)  # the BBC set holds 97 such copies; the index keeps the first
    (tmp_path / "c.txt").write_text("Talks\n\nThe talks went on in Abu Dhabi.\n")
    docs = {d.doc_id: d for d in load_corpus(tmp_path).documents}
    indexed = {"a.txt": {"hash": docs["a.txt"].content_hash}}  # c.txt: not indexed, and a copy of nothing
    items = [GoldItem("1", "How many?", ("314",), "b.txt", "swap 314 prisoners", True),
             GoldItem("2", "Where?", ("Abu Dhabi",), "c.txt", "in Abu Dhabi", True),
             GoldItem("3", "Who won?", (), None, None, False)]
    assert indexed_copies(items, tmp_path, indexed) == {"b.txt": "a.txt"}


def test_a_question_the_pipeline_fails_on_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch, fake_models,
                                                                        capsys):
    # a bug met on one question (once: an IndexError 20 minutes into XQuAD) keeps the others' results: the
    # report is written, the item says what failed, and the exit code says something did
    from rag.answer import Pipeline
    from rag.settings import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real_ask = Pipeline.ask

    def ask(self, question, *a, **kw):
        if "loan" in question.lower():
            raise IndexError("list index out of range")
        return real_ask(self, question, *a, **kw)

    monkeypatch.setattr(Pipeline, "ask", ask)
    gold = write_gold(tmp_path / "g.jsonl", [PRISONERS, LOAN, FRANCE])
    s = Settings(chunk_tokens=60, chunk_overlap=15, min_evidence=0.0, min_coverage=0.0)
    out = tmp_path / "report.json"
    code = run_cli(gold=gold, corpus=SEEDS, index=None, out=out, html=None, limit=None, seed=0, variants=[],
                   settings=s)
    assert code == 1
    items = json.loads(out.read_text())["items"]
    assert [i["error"] is None for i in items] == [True, False, True]
    assert items[1]["error"] == "internal error: IndexError: list index out of range"
    assert items[0]["answer"] and items[2]["question"] == FRANCE["question"]
    assert "1 question(s) failed inside the pipeline" in capsys.readouterr().err
