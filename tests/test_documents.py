import json

from rag.documents import clean_article, decode_bytes, html_to_text, load_corpus

from conftest import SEED_DOC, SEEDS


def test_seed_article_loads_with_headline_and_no_boilerplate():
    report = load_corpus(SEEDS)
    assert [d.doc_id for d in report.documents] == [SEED_DOC]
    doc = report.documents[0]
    assert doc.title == "Ukraine and Russia agree to swap prisoners as talks advance"
    assert "The two sides agreed to swap 314 prisoners" in doc.text
    for junk in ("©2026 Bloomberg", "With assistance from", "Published in News", "Comments"):
        assert junk not in doc.text
    assert doc.text.rstrip().endswith("feels like a betrayal.”")


def test_latin1_file_decodes_without_crash(tmp_path):
    (tmp_path / "a.txt").write_bytes("Café headline\nThe café in Zürich sold 5 crêpes.\n".encode("latin-1"))
    report = load_corpus(tmp_path)
    doc = report.documents[0]
    assert doc.title == "Café headline"
    assert "Zürich" in doc.text
    assert report.warnings == ["a.txt: not UTF-8; read as Windows-1252"]  # indexed, and the user is told
    (tmp_path / "a.txt").write_text("Café headline\nThe café in Zürich sold 5 crêpes.\n", encoding="utf-8")
    assert load_corpus(tmp_path).warnings == []


def test_cp1252_quotes_decode():
    assert decode_bytes(b"\x93quoted\x94") == "“quoted”"


def test_empty_whitespace_and_binary_files_are_skipped_with_named_warnings(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("  \n\n \t\n")
    (tmp_path / "headline_only.txt").write_text("Just a headline\n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "good.md").write_text("Headline\nA real sentence here.\n")
    report = load_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["good.md"]
    text = "\n".join(report.warnings)
    for name in ("empty.txt", "blank.txt", "headline_only.txt", "binary.txt"):
        assert name in text
    assert "empty.txt: empty file; skipped" in text and "blank.txt: empty file; skipped" in text
    assert "headline_only.txt: empty article (no text after the headline)" in text


def test_bom_only_file_is_empty_and_a_non_utf8_json_without_articles_says_why(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf \xc2\xa0\n")
    (tmp_path / "old.json").write_bytes('{"note": "caf\xe9"}'.encode("latin-1"))
    text = "\n".join(load_corpus(tmp_path).warnings)
    assert "bom.txt: empty file; skipped" in text
    # the encoding's warning is not the only one: the file is also named with why it holds no article
    assert "old.json: not UTF-8" in text
    assert any(w.startswith("old.json") and "UTF-8" not in w for w in text.splitlines()), text


def test_html_drops_scripts_and_styles():
    text = html_to_text("<html><head><title>T</title><style>p{}</style></head><body><script>alert(1)</script>"
                        "<p>Visible &amp; kept.</p></body></html>")
    assert "alert" not in text and "p{}" not in text
    assert "Visible & kept." in text


def test_json_and_jsonl_records_with_malformed_lines(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"title": "T1", "text": "Body one."}) + "\n{broken\n"
                                      + json.dumps({"text": "H2\nBody two."}) + "\n")
    (tmp_path / "b.json").write_text("[1, 2")
    report = load_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["a.jsonl#1", "a.jsonl#3"]
    assert any("a.jsonl: line 2" in w for w in report.warnings)
    assert any("b.json" in w for w in report.warnings)


def test_clean_article_keeps_sentences_intact():
    title, body, _ = clean_article("Head\n\nFirst line — with a dash.\n---\nCopyright 2020 X\nSecond.\nComments")
    assert title == "Head"
    assert body == "First line — with a dash.\nSecond."
