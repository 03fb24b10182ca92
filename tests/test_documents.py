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


def test_markdown_is_read_as_the_text_it_shows(tmp_path):
    """A .md article was indexed as its markup: the headline "# Chipmaker …", "**$4 billion**", a table's
    pipes and a <script> quoted as sources."""
    (tmp_path / "chips.md").write_text(
        "---\ntitle: Front matter title\ndate: 2026-11-20\n---\n"
        "# Chipmaker to build $4 billion plant\n\n"
        "The firm said it would build a **$4 billion** factory near [Columbus](javascript:alert(1)),\n"
        "its *largest* yet.\n"
        "<img src=x onerror=\"alert(2)\"><script>alert('md-script')</script>\n\n"
        "| Item | Value |\n|---|---|\n| Jobs | 3,000 |\n")
    (tmp_path / "plain.md").write_text("Headline like a .txt\nA first sentence.\n")
    (tmp_path / "front.md").write_text("---\ntitle: 'Only the front matter names it'\n---\nThe text.\n")
    docs = {d.doc_id: d for d in load_corpus(tmp_path).documents}
    chips = docs["chips.md"]
    assert chips.title == "Chipmaker to build $4 billion plant"
    assert chips.text.splitlines() == ["The firm said it would build a $4 billion factory near Columbus,",
                                       "its largest yet.", "Item Value", "Jobs 3,000"]
    for markup in ("*", "#", "|", "script", "alert", "---", "title:"):
        assert markup not in chips.text
    assert (docs["plain.md"].title, docs["plain.md"].text) == ("Headline like a .txt", "A first sentence.")
    assert (docs["front.md"].title, docs["front.md"].text) == ("Only the front matter names it", "The text.")


def test_html_line_breaks_in_the_markup_are_spaces_and_table_cells_stay_apart():
    text = html_to_text("<p>The plant will\ncost $4bn.</p><table><tr><td>Cost</td><td>$4bn</td></tr></table>")
    assert text.splitlines() == ["The plant will cost $4bn.", "Cost $4bn"]


def test_utf16_with_a_byte_order_mark_is_text_not_binary(tmp_path):
    """Windows Notepad's "Unicode" is UTF-16 with a BOM; its NUL bytes made it "a binary file"."""
    (tmp_path / "le.txt").write_bytes(b"\xff\xfe" + "Solar farm opens\nThe farm near Sevilla has 400 panels.\n"
                                      .encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(b"\xfe\xff" + "Wind farm opens\nThe farm near Valdivia has 40 turbines.\n"
                                      .encode("utf-16-be"))
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe" + b"\x00\x01\x02\x00" * 64)  # a BOM before binary stays binary
    report = load_corpus(tmp_path)
    assert [(d.doc_id, d.title, d.text) for d in report.documents] == [
        ("be.txt", "Wind farm opens", "The farm near Valdivia has 40 turbines."),
        ("le.txt", "Solar farm opens", "The farm near Sevilla has 400 panels.")]
    assert report.warnings == ["bad.txt: looks like a binary file, not text; skipped"]


def test_files_of_other_types_are_named_once_and_a_file_for_a_folder_says_so(tmp_path):
    import pytest

    (tmp_path / "a.txt").write_text("Headline\nA sentence.\n")
    for name in ("notes.docx", "README", ".hidden.txt", "scan.pdf"):
        (tmp_path / name).write_text("x")
    report = load_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["a.txt"]
    assert report.warnings == ["3 files of other types not read (README, notes.docx, scan.pdf); "
                               "articles are .htm, .html, .json, .jsonl, .md, .txt files"]
    with pytest.raises(FileNotFoundError, match=r"a.txt is a file; --corpus takes the folder"):
        load_corpus(tmp_path / "a.txt")


def test_a_datasets_readme_and_licence_are_not_articles(tmp_path):
    # the BBC corpus ships a README.TXT ("Consists of 2225 documents … Contact Derek Greene"): indexed, it was
    # the 2,227th article and could answer a question about who owns the news
    (tmp_path / "README.TXT").write_text("Consists of 2225 documents from the BBC news website.\n")
    (tmp_path / "sport").mkdir()
    (tmp_path / "sport" / "001.txt").write_text("Claxton hunting first major medal\nBritish hurdler Sarah Claxton ran.\n")
    (tmp_path / "sport" / "LICENSE.md").write_text("CC BY-SA 4.0\n")
    (tmp_path / "readme-first-aid.txt").write_text("First aid course\nA course on readmission ran.\n")
    report = load_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["readme-first-aid.txt", "sport/001.txt"]
    assert report.warnings == ["README.TXT, sport/LICENSE.md: the folder's own notes (README, LICENSE, …), not "
                               "articles; not read — rename a file to index it"]


def test_markdown_and_html_edge_cases_keep_what_the_page_shows():
    from rag.documents import decode_with, looks_binary, markdown_to_text

    # Windows line endings around the front matter; a rule (<hr>) is no heading
    assert markdown_to_text("---\r\ntitle: Front\r\ndate: 2026-11-20\r\n---\r\nThe text.\r\n") == "Front\nThe text."
    assert markdown_to_text("---\ntitle: Front\n---\n***\nBody text.\n") == "Front\nBody text."
    # an ordered list's numbers are shown, so they are text ("1986." is a year here)
    assert markdown_to_text("Plant\n\n1986. The year it opened.\n") == "Plant\n1986. The year it opened."
    assert html_to_text('<ol start="5"><li>five</li><li><p>six</p></li></ol><ul><li>dot</li></ul>') == \
        "5. five\n6. six\ndot"
    # <pre> keeps its lines; a title's line break is a space
    assert html_to_text("<h1>H</h1><pre>line one\nline two</pre>") == "H\nline one\nline two"
    assert html_to_text("<title>Chipmaker to\nbuild plant</title><p>x</p>") == "Chipmaker to build plant\nx"
    # UTF-16: random bytes after a BOM are binary; a stray last byte is one bad letter, not cp1252
    assert looks_binary(b"\xff\xfe" + bytes((i * 7919 + 13) % 256 for i in range(4000)))
    assert decode_with(b"\xff\xfe" + "Solar farm".encode("utf-16-le") + b"\n") == ("Solar farm\ufffd", "utf-16")
