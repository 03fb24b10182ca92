import json
import shutil

import numpy as np
import pytest

from rag.indexing import build_index
from rag.retrieval import Retriever, fuse_rankings, fuse_scores
from rag.store import (
    IndexCorruptError, IndexMismatchError, IndexMissingError, IndexStore, build_faiss, choose_factory,
    expected_manifest,
)


def load(settings, emb):
    return IndexStore.load(settings.index, expect=expected_manifest(settings, emb.model_id))


def test_faiss_on_random_arrays_returns_each_vector_first():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for factory in ("Flat", "HNSW32,Flat"):
        index = build_faiss(vecs, factory)
        scores, ids = index.search(vecs[:50], 1)
        assert (ids[:, 0] == np.arange(50)).mean() >= (1.0 if factory == "Flat" else 0.95)
        assert np.allclose(scores[ids[:, 0] == np.arange(50), 0], 1.0, atol=1e-4)


def test_factory_choice_by_size():
    assert choose_factory(1000) == "Flat"
    assert choose_factory(500_000) == "HNSW32,Flat"
    assert choose_factory(10, "IVF4,Flat") == "IVF4,Flat"


def test_a_sentence_finds_its_chunk_with_score_one(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    store = load(settings, hash_embedder)
    r = Retriever(store, hash_embedder, "dense")
    for chunk in store.chunks[:5]:
        a, b = chunk.sentences[-1]
        sentence = chunk.text[a - chunk.start:b - chunk.start]
        hit = r.search(sentence, 1)[0]
        assert sentence in hit.chunk.text    # this chunk, or the one before it that shares the sentence
        assert hit.dense == pytest.approx(1.0, abs=1e-5)
        assert store.sentence_vector(chunk.doc_id, a) @ r.query_vector == pytest.approx(1.0, abs=1e-5)


def test_a_chunk_ranks_by_its_best_sentence(tmp_path, settings, hash_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    facts = ["The harbour council approved a budget of nine million.", "Kremlin spokesman Dmitry Peskov spoke.",
             "Rain fell on the northern hills all day.", "The ferry to the island was cancelled twice."]
    (corpus / "a.txt").write_text("Council news\n" + " ".join(facts) + "\n")
    s = settings.model_copy(update={"corpus": corpus, "chunk_tokens": 400, "chunk_overlap": 0})
    build_index(s, hash_embedder, progress=False)
    store = load(s, hash_embedder)
    assert len(store.chunks) == 1 and store.n_sentences == 4   # the headline is the title, not a sentence
    hit = Retriever(store, hash_embedder, "dense").search(facts[1], 1)[0]
    assert hit.dense == pytest.approx(1.0, abs=1e-5)     # the whole chunk's vector would score far less


def test_hybrid_and_bm25_find_the_314_passage(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    store = load(settings, hash_embedder)
    hits = Retriever(store, hash_embedder, "bm25").search("How many prisoners were swapped 314", 3)
    assert "314 prisoners" in hits[0].chunk.text
    # the hash embedder's dense side knows no meaning (here it puts another chunk first), so fusion only has
    # to keep BM25's clear first in the top two; test_models checks hybrid retrieval with the real MiniLM
    hits = Retriever(store, hash_embedder, "hybrid").search("How many prisoners were swapped 314", 3)
    assert any("314 prisoners" in h.chunk.text for h in hits[:2])


def test_bm25_searches_a_country_as_its_people_and_back(tmp_path, settings, hash_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "tallinn.txt").write_text("Visit to Kyiv\nThe Estonian minister toured the damaged power plant.\n")
    (corpus / "summit.txt").write_text("Summit\nThe minister of finance and the minister of trade met bankers "
                                       "in London.\n")
    s = settings.model_copy(update={"corpus": corpus})
    build_index(s, hash_embedder, progress=False)
    store = load(s, hash_embedder)
    # "minister" alone would put the summit first (it says it twice); "Estonia" finds "Estonian"
    hits = Retriever(store, hash_embedder, "bm25").search("What did Estonia's minister do?", 2)
    assert hits[0].chunk.doc_id == "tallinn.txt"
    hits = Retriever(store, hash_embedder, "bm25").search("What did the minister do?", 2)
    assert hits[0].chunk.doc_id == "summit.txt"
    # a form the corpus never uses adds nothing, and a query of such forms alone finds nothing
    assert Retriever(store, hash_embedder, "bm25").search("Latvia", 2) == []


def test_fuse_rankings():
    fused = fuse_rankings([[1, 2, 3], [3, 1]], k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_fuse_scores_keeps_a_clear_lead_that_rank_fusion_loses():
    # the shape of "Who is the Kremlin spokesman?" on seed + BBC: chunk 9 is far ahead in BM25 and absent from the
    # dense list; chunks 1-4 are middling in both. RRF ranks all four above it; score fusion keeps it first.
    dense = [(5, 0.60), (6, 0.59), (1, 0.56), (2, 0.56), (3, 0.55), (4, 0.55), (8, 0.52), (10, 0.50)]
    bm25 = [(9, 4.0), (1, 3.0), (2, 2.9), (3, 2.9), (4, 2.8), (7, 2.6), (11, 2.5), (12, 2.4)]
    assert [i for i, _ in fuse_rankings([[i for i, _ in dense], [i for i, _ in bm25]])][:4] == [1, 2, 3, 4]
    fused = fuse_scores([dense, bm25], [0.5, 0.5])
    assert fused[0][0] == 9
    assert {i for i, _ in fused} == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
    # an item one list did not return counts as that list's lowest: 9 scores what BM25 gives it plus the dense floor
    assert dict(fused)[9] == pytest.approx(0.32394, abs=1e-4)
    assert dict(fused)[10] == dict(fused)[12]   # each last in one list, missing from the other


def test_fuse_scores_edge_cases():
    assert fuse_scores([[], []], [0.5, 0.5]) == []
    assert [i for i, _ in fuse_scores([[(3, 0.9), (1, 0.2)], []], [0.5, 0.5])] == [3, 1]   # BM25 found nothing
    assert [i for i, _ in fuse_scores([[(5, 0.7)], [(6, 2.0), (5, 1.0)]], [0.5, 0.5])] == [6, 5]  # one item: sd 0
    assert [i for i, _ in fuse_scores([[(1, 0.9), (2, 0.1)], [(2, 9.0), (1, 1.0)]], [1.0, 0.0])] == [1, 2]


def test_fusion_setting_selects_rank_or_score_fusion(settings, hash_embedder):
    from rag.settings import Settings

    assert Settings().fusion == "cc"   # the abstention gates were fitted with score fusion (README: Quality)
    assert settings.fusion == "rrf"    # the unit tests' (tests/conftest.py)
    build_index(settings, hash_embedder, progress=False)
    store = load(settings, hash_embedder)
    q = "How many prisoners were swapped 314"
    dense = store.dense_search(hash_embedder.encode_queries([q])[0], settings.candidates)
    bm25 = store.bm25_search(q, settings.candidates)
    expected = {"cc": fuse_scores([dense, bm25], [0.5, 0.5]),
                "rrf": fuse_rankings([[i for i, _ in dense], [i for i, _ in bm25]], settings.rrf_k)}
    for fusion, fused in expected.items():
        r = Retriever.from_settings(store, hash_embedder, settings.model_copy(update={"fusion": fusion}))
        hits = r.search(q, 4)
        assert [store.chunks.index(h.chunk) for h in hits] == [i for i, _ in fused[:4]], fusion
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in fused[:4]]), fusion


def test_incremental_rebuild_embeds_only_changes(settings, hash_embedder, seed_copy):
    settings = settings.model_copy(update={"corpus": seed_copy})
    (seed_copy / "b.txt").write_text("Second headline\nA quiet day in the markets. Nothing moved at all.\n")
    first = build_index(settings, hash_embedder, progress=False)
    assert first.embedded == first.n_sentences and first.n_docs == 2

    again = build_index(settings, hash_embedder, progress=False)
    assert again.unchanged and again.embedded == 0

    (seed_copy / "b.txt").write_text("Second headline\nA busy day in the markets. Shares rose 4%.\n")
    (seed_copy / "c.txt").write_text("Third headline\nRain fell on Tuesday.\n")
    changed = build_index(settings, hash_embedder, progress=False)
    assert sorted(changed.changed_docs) == ["b.txt", "c.txt"]
    store = load(settings, hash_embedder)
    new = {(c.doc_id, a) for c in store.chunks if c.doc_id in ("b.txt", "c.txt") for a, _ in c.sentences}
    assert changed.embedded == len(new) == 3   # their sentences; the seed's were reused
    assert changed.reused == changed.n_sentences - 3
    assert not any("quiet day" in c.text for c in store.chunks)

    (seed_copy / "b.txt").unlink()
    removed = build_index(settings, hash_embedder, progress=False)
    assert removed.removed_docs == ["b.txt"] and removed.embedded == 0
    store = load(settings, hash_embedder)
    assert {c.doc_id for c in store.chunks} == {"000_aa0e348396f8f4a1.txt", "c.txt"}
    assert len(store.vectors) == store.faiss_index.ntotal == store.n_sentences


def test_manifest_mismatch_is_a_clear_error(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    other = settings.model_copy(update={"chunk_tokens": 200})
    with pytest.raises(IndexMismatchError, match=r"rag index .*--rebuild"):
        load(other, hash_embedder)
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        build_index(other, hash_embedder, progress=False)
    from rag.embedding import HashEmbedder

    with pytest.raises(IndexMismatchError, match="embed_model"):
        load(settings, HashEmbedder(model_id="another-model"))
    rebuilt = build_index(other, hash_embedder, rebuild=True, progress=False)
    assert rebuilt.embedded == rebuilt.n_sentences
    load(other, hash_embedder)


def test_a_newer_sentence_splitter_rebuilds_without_being_asked(settings, hash_embedder, monkeypatch):
    build_index(settings, hash_embedder, progress=False)
    monkeypatch.setattr("rag.chunking.CHUNKER", "spacy-sentencizer/next")
    with pytest.raises(IndexMismatchError, match="chunker"):
        load(settings, hash_embedder)  # the chat and `rag ask` refuse chunks split the old way
    report = build_index(settings, hash_embedder, progress=False)  # `rag index` (and `make run`) rebuild them
    assert any("sentence splitter" in w for w in report.warnings)
    assert not report.unchanged and report.changed_docs == []
    assert report.embedded == 0 and report.reused == report.n_sentences  # the same sentences keep their vectors
    assert load(settings, hash_embedder).manifest["chunker"] == "spacy-sentencizer/next"
    # only the splitter is waived: another embedding model still needs an explicit --rebuild
    from rag.embedding import HashEmbedder

    monkeypatch.setattr("rag.chunking.CHUNKER", "spacy-sentencizer/later")
    with pytest.raises(IndexMismatchError, match="embed_model"):
        build_index(settings, HashEmbedder(model_id="another-model"), progress=False)


def test_an_index_from_an_older_newsrag_is_built_again_without_being_asked(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    build = IndexStore.current_build(settings.index)
    manifest = json.loads((build / "manifest.json").read_text())
    (build / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))   # one vector per chunk
    with pytest.raises(IndexMismatchError, match=r"format 1, this newsrag reads 2: run `rag index --index"):
        load(settings, hash_embedder)   # the chat and `rag ask` refuse it and say what to run
    from rag.embedding import HashEmbedder

    with pytest.raises(IndexMismatchError, match="embed_model"):   # another model still needs --rebuild
        build_index(settings, HashEmbedder(model_id="another-model"), progress=False)
    report = build_index(settings, hash_embedder, progress=False)
    assert any("older newsrag (format 1): building it again" in w for w in report.warnings)
    assert report.embedded == report.n_sentences
    assert load(settings, hash_embedder).manifest["format"] == 2
    # one from a newer newsrag is not downgraded behind the user's back
    build = IndexStore.current_build(settings.index)
    manifest = json.loads((build / "manifest.json").read_text())
    (build / "manifest.json").write_text(json.dumps({**manifest, "format": 3}))
    with pytest.raises(IndexMismatchError, match="format 3"):
        build_index(settings, hash_embedder, progress=False)


def test_a_sentence_repeated_across_articles_is_embedded_once_and_found_in_each(tmp_path, settings, hash_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    shared = "The ferry to the island was cancelled twice."
    (corpus / "a.txt").write_text(f"First\nThe harbour council met on Monday. {shared}\n")
    (corpus / "b.txt").write_text(f"Second\n{shared} Rain fell all day.\n")
    s = settings.model_copy(update={"corpus": corpus})
    r = build_index(s, hash_embedder, progress=False)
    assert r.n_sentences == 4 and r.embedded == 3 and hash_embedder.calls[-1] == 3
    store = load(s, hash_embedder)
    rows = {(c.doc_id, a) for c in store.chunks for a, b in c.sentences if c.text[a - c.start:b - c.start] == shared}
    assert len(rows) == 2 and all(store.sentence_vector(*k) is not None for k in rows)
    hits = Retriever(store, hash_embedder, "dense").search(shared, 2)
    assert {h.chunk.doc_id for h in hits} == {"a.txt", "b.txt"}
    assert all(h.dense == pytest.approx(1.0, abs=1e-5) for h in hits)


def test_missing_and_corrupt_index_messages(settings, hash_embedder):
    with pytest.raises(IndexMissingError, match="rag index"):
        load(settings, hash_embedder)
    build_index(settings, hash_embedder, progress=False)
    build = IndexStore.current_build(settings.index)
    data = (build / "vectors.faiss").read_bytes()
    (build / "vectors.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        load(settings, hash_embedder)
    (build / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="manifest"):
        load(settings, hash_embedder)
    # a plain `rag index` repairs it from scratch
    r = build_index(settings, hash_embedder, progress=False)
    assert r.embedded == r.n_sentences and any("unusable" in w for w in r.warnings)
    load(settings, hash_embedder)


def test_failure_mid_build_leaves_previous_index_intact(settings, hash_embedder, seed_copy, monkeypatch):
    settings = settings.model_copy(update={"corpus": seed_copy})
    build_index(settings, hash_embedder, progress=False)
    before = load(settings, hash_embedder)
    (seed_copy / "new.txt").write_text("New headline\nSomething new happened today.\n")

    import rag.store

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rag.store.np, "save", disk_full)
    with pytest.raises(OSError):
        build_index(settings, hash_embedder, progress=False)
    monkeypatch.undo()
    after = load(settings, hash_embedder)
    assert after.path == before.path and len(after) == len(before)
    assert not [p for p in (settings.index / "builds").iterdir() if p.name.startswith(".tmp-")]

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(hash_embedder, "encode_documents", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, hash_embedder, progress=False)
    assert load(settings, hash_embedder).path == before.path


def test_no_pickle_anywhere_in_the_index(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    build = IndexStore.current_build(settings.index)
    names = {p.suffix for p in build.rglob("*") if p.is_file()}
    assert names <= {".json", ".jsonl", ".npy", ".faiss"}, names
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["embed_model"] == "hash-embedder" and manifest["normalized"] is True
    assert manifest["documents"]["000_aa0e348396f8f4a1.txt"]["hash"]


def test_uploaded_articles_in_the_index_folder_survive_a_plain_rebuild(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    (settings.index / "uploads").mkdir()
    (settings.index / "uploads" / "note.txt").write_text("Harbour news\nThe ferry carried 41 cars on Monday.\n")
    r = build_index(settings, hash_embedder, progress=False)
    assert r.changed_docs == ["uploads/note.txt"] and r.embedded == 1
    again = build_index(settings, hash_embedder, progress=False)
    assert again.unchanged
    assert "uploads/note.txt" in load(settings, hash_embedder).manifest["documents"]


def test_of_two_chunks_sharing_the_best_sentence_the_one_with_closer_context_ranks_first(tmp_path, settings,
                                                                                           hash_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sents = ["Alpha beta gamma delta epsilon.", "The harbour council voted on the ferry budget.",
             "Ferry tickets will cost more from June."]
    (corpus / "a.txt").write_text("Harbour news\n" + " ".join(sents) + "\n")
    s = settings.model_copy(update={"corpus": corpus, "chunk_tokens": 15, "chunk_overlap": 8})
    build_index(s, hash_embedder, progress=False)
    store = load(s, hash_embedder)
    texts = [c.text for c in store.chunks]
    assert texts == [" ".join(sents[:2]), " ".join(sents[1:])]   # the middle sentence is in both
    # the question matches the shared sentence best; its neighbour in the second chunk is about ferries too
    q = hash_embedder.encode_queries(["Which council voted on the ferry budget tickets?"])[0]
    ranked = store.dense_search(q, 2)
    assert [pos for pos, _ in ranked] == [1, 0]
    assert ranked[0][1] == pytest.approx(ranked[1][1])   # both score their (shared) best sentence


def test_document_text_is_the_whole_article_from_its_chunks(settings, hash_embedder):
    build_index(settings, hash_embedder, progress=False)
    store = load(settings, hash_embedder)
    doc_id = store.chunks[0].doc_id
    whole = store.document_text(doc_id)
    assert whole.startswith(store.chunks[0].title + "\n")
    # every chunk of the article is in it, the last one too ("Kremlin spokesman" is far from the first chunk)
    assert all(c.text in whole for c in store.chunks if c.doc_id == doc_id)
    assert "314 prisoners" in whole and "Tsahkna" in whole
    assert store.document_text("no-such-article.txt") == ""
