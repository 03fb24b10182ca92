from hypothesis import given, settings as hsettings, strategies as st

from rag.chunking import chunk_article, pack_sentences, split_sentences
from rag.documents import Document, load_corpus

from conftest import SEEDS


def word_count(texts):
    return [len(t.split()) for t in texts]


def _check(doc, chunks):
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.start <= c.sentences[0][0] and c.sentences[-1][1] <= c.end
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(split_sentences(doc.text))


def test_seed_chunks_slice_back_and_cover_every_sentence():
    doc = load_corpus(SEEDS).documents[0]
    chunks = chunk_article(doc, word_count, chunk_tokens=60, overlap=15)
    assert len(chunks) > 3
    _check(doc, chunks)
    # sentences are never split: each chunk ends where a sentence ends
    ends = {b for _, b in split_sentences(doc.text)}
    assert all(c.end in ends for c in chunks)


def test_chunk_ids_are_stable_and_content_derived():
    doc = load_corpus(SEEDS).documents[0]
    a = chunk_article(doc, word_count, 60, 15)
    b = chunk_article(doc, word_count, 60, 15)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)


def test_pack_sentences_overlap_and_long_sentence():
    assert pack_sentences([5, 5, 5, 5], 10, 5) == [(0, 2), (1, 3), (2, 4)]
    assert pack_sentences([50, 3], 10, 5) == [(0, 1), (1, 2)]  # an oversized sentence stays whole
    assert pack_sentences([], 10, 5) == []


@hsettings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=600))
def test_any_unicode_text_chunks_cover_all_sentences_with_exact_offsets(text):
    doc = Document("d", "t", text, "d")
    chunks = chunk_article(doc, word_count, chunk_tokens=12, overlap=4)
    _check(doc, chunks)
    for a, b in split_sentences(text):
        assert text[a:b].strip() == text[a:b] and text[a:b]


def test_an_opening_quote_mark_starts_its_own_sentence():
    text = ('Zelenskyy spoke on Wednesday. “Russia must be ready for this,” he said. "Partners too." '
            '‘Soon,’ she added.\nA quote mark that opens nothing stays put. “')
    got = [text[a:b] for a, b in split_sentences(text)]
    assert got == ["Zelenskyy spoke on Wednesday.", "“Russia must be ready for this,” he said.", '"Partners too."',
                   "‘Soon,’ she added.", "A quote mark that opens nothing stays put. “"]
    # the seed article: every quoted remark opens with its quote mark, no sentence ends with one
    doc = load_corpus(SEEDS).documents[0]
    sents = [doc.text[a:b] for a, b in split_sentences(doc.text)]
    assert not [s for s in sents if s.endswith("“")]
    assert "Russia must be ready for this,” Zelenskyy said in his daily address to the nation Wednesday." in sents
    assert any(s.startswith("“Partners must also be ready") for s in sents)
