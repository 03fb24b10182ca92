"""The question-answering pipeline: retrieve → pick evidence → generate → verify → cite.

``Pipeline.ask_stream`` yields the model's tokens as they come and then one
final ``Answer``; ``Pipeline.ask`` returns just the ``Answer``. The answer a
user sees is the verified one: numbers and names must come from a cited
passage, short answers are snapped onto the passage's own words, and when
the evidence is weak the pipeline abstains on its own, whatever the model says.

Example::

    pipe = Pipeline.from_settings(Settings())
    ans = pipe.ask("How many prisoners were swapped?")
    ans.answer        # '314 prisoners [1]'
    ans.citations[0]  # Citation(n=1, doc_id='000_aa0e348396f8f4a1.txt', quote='The two sides agreed ...')
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rag.citations import (
    REFUSAL, ROLE_ACRONYMS, TITLES, Claim, Evidence, answer_phrase, asks_name_of_person, asks_who_someone_is, attribute_sentences, counted_noun, counts_noun,
    everyday_names_missing, expected_labels, name_runs, names_missing, numbers_missing, strip_markers, typed_candidates,
)
from rag.llm import build_messages
from rag.retrieval import Hit, Retriever
from rag.spans import (
    LP_FLOOR, MAX_SPAN_WORDS, SCORER_WEIGHTS, WEIGHTS, Candidate, SpanRanker, add_answered_cos, another_year,
    asks_for_several, asks_no_number, asks_score, bare_number, candidate_features, coordination, has_score, in_score,
    interim_score, is_score, llm_features, score_runs, span_candidates, whole_range,
)
from rag.countries import country_forms, mentions
from rag.text import (
    STOPWORDS, bare_word, content_stems, covered_share, lemma_stem, numbers_in, other_forms_of_names, parsed,
    parsed_span, plain_words, question_stems, quoted, stem, token_f1, truecase, words,
)

log = logging.getLogger(__name__)

ABSTAIN_TEXT = "I could not find the answer in the articles."
CLOSE_COSINE = 0.5    # ... or whose cosine to the question is at least this (paraphrases share few words)
PARAPHRASE_COSINE = 0.6  # a best sentence without a verb this close in meaning is still evidence (a paraphrase)
NUMERIC_TYPES = {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}
NAME_TYPES = {"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC"}
SOFT_TYPES = {"GPE"}  # answer types a plain passage span may satisfy too (where → a place or a thing)
CURRENCY_SIGNS = "$£€¥₹₽"
ROLE_SENTENCES = 8  # how far down the best sentences one tying a name to an asked role is looked for
ROLE_CORPUS_SENTENCES = 60  # ... and, when none does, how many sentences of the index naming the role are read
TYPED_COVERAGE = 0.6  # share of the question's content words a typed answer's sentence (± 1) must hold


class QuestionError(ValueError):
    """A question the pipeline refuses before doing any work; the message says why."""


def printable(text: str) -> str:
    """``text`` with control and format characters (NUL, escape sequences, zero-width) as spaces."""
    return "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)


def clean_question(question: str, max_chars: int = 2000) -> str:
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    # control and format characters carry no meaning; drop them
    question = " ".join(printable(question).split())
    if not question:
        raise QuestionError("Please type a question.")
    if len(question) > max_chars:
        raise QuestionError(f"The question is {len(question):,} characters long; the limit is {max_chars:,}. "
                            "Please ask something shorter.")
    if not any(ch.isalnum() for ch in question):
        raise QuestionError("The question has no words in it. Please ask about the articles in words.")
    return question


_QUESTION_START = re.compile(r"^\W*(?:who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|"
                             r"can|could|will|would|should|has|have|had)\b", re.I)


def as_asked(question: str) -> str:
    """The question with its question mark: "Who is the special envoy" is read as "Who is the special envoy?",
    the form every check was fitted on (without it the answer could tip to another span)."""
    if _QUESTION_START.match(question) and not re.search(r"[?.!。？؟…:]\W*$", question):
        return question + "?"
    return question


# what points back at an earlier turn: a pronoun ("Who brokered it?", "How old is he?"), "that one", "there", or
# an opening that continues ("And Russia?", "What about the talks?")
_REFERS_BACK = re.compile(
    r"^\W*(?:and|but|also|so|then|what about|how about|what else)\b"
    r"|\b(?:it|its|it['’]s|itself|they|them|their|theirs|themselves|this one|that one|these|those|the same|there"
    r"|then|the former|the latter|the other|next|again|instead|else)\b", re.I)
# a person's pronoun may stand for a name the question gives before it: "How did Trump describe his meeting?"
_PERSONAL = re.compile(r"\b(?:he|him|his|himself|she|her|hers|herself)\b", re.I)
# "there" that only says something exists refers to nothing: "Are there talks?", "How many are there?"
_EXISTENTIAL_THERE = re.compile(r"\bthere(?:['’]s|\s+(?:is|are|was|were|be|been|will|would|has|have|had))\b"
                                r"|\b(?:is|are|was|were|be|been)\s+there\b", re.I)


def refers_back(question: str) -> bool:
    """True when a chat question leans on what was asked before it: a pronoun or "there" with nothing it
    could stand for (his, her … count only when no name comes before them), an opening that continues
    ("And …?", "What about …?"), "next" or "again", or, naming nothing, at most one word of its own besides
    the question words ("Why?", "Who won?", "How many were women?"; not "Who is Witkoff?"). Any other question
    stands alone, and is answered as if it were the first: "What is the capital of Peru?" asked after the
    swap is no question about the swap."""
    plain = _EXISTENTIAL_THERE.sub(" ", question)
    if _REFERS_BACK.search(plain):
        return True
    personal = _PERSONAL.search(plain)
    if personal and not name_runs(plain[:personal.start()]):
        return True
    if name_runs(question) or numbers_in(question):
        return False
    own = [w for w in words(question.lower()) if w not in STOPWORDS and w not in ("how", "many", "much")]
    return len(own) <= 1


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    chunk_id: str
    start: int
    end: int
    quote: str
    text: str

    def to_dict(self) -> dict:
        return {"n": self.n, "doc_id": self.doc_id, "title": self.title, "chunk_id": self.chunk_id,
                "start": self.start, "end": self.end, "quote": self.quote, "text": self.text}


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Hit]
    timings_s: dict[str, float]
    draft: str = ""                                   # what the model wrote, before verification
    notes: list[str] = field(default_factory=list)   # what verification removed or replaced
    spans: list = field(default_factory=list)         # the ranked answer-span candidates (rag.spans.Candidate)

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "abstained": self.abstained,
                "citations": [c.to_dict() for c in self.citations],
                "passages": [h.to_dict() for h in self.passages],
                "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()}}


def _embed(embedder, query: str, texts: Sequence[str], vectors: np.ndarray | None = None,
           query_vector: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cosines with the query, the texts' vectors); ``vectors`` when the index already holds them."""
    if not texts:
        return np.zeros(0, dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
    q = embedder.encode_queries([query])[0] if query_vector is None else query_vector
    if vectors is None:
        vectors = embedder.encode_documents(list(texts))
    return vectors @ q, vectors


def gather_evidence(hits: Sequence[Hit], question_stems: set[str], embedder, query: str,
                    max_hits: int = 5, store=None, query_vector: np.ndarray | None = None) -> list[Evidence]:
    """Every sentence of the top chunks, scored against the question, best first.

    With ``store`` (the index the hits came from) the sentences' vectors are read from it, not computed."""
    raw: list[tuple[Hit, int, int, str, str]] = []
    seen, seen_text = set(), set()
    asked = name_runs(query)
    resolved: dict[int, str] = {}  # a sentence that says "She" or "It" for an asked name, read with the name
    for hit in hits[:max_hits]:
        c = hit.chunk
        sents = [c.text[a - c.start:b - c.start] for a, b in c.sentences]
        for k, (a, b) in enumerate(c.sentences):
            # the same sentence in two articles (a story filed twice, a stock paragraph) is one piece of
            # evidence: its copy would take the place of another sentence among the best few
            same = " ".join(sents[k].split()).lower()
            if (c.doc_id, a) in seen or same in seen_text:
                continue
            seen.add((c.doc_id, a))
            seen_text.add(same)
            window = " ".join(sents[max(0, k - 1):k + 2]) + " " + c.title
            named = with_named_subject(sents[k], sents[k - 1] if k else "", asked)
            if named:
                resolved[len(raw)] = named
            raw.append((hit, a, b, sents[k], window))
    stored = None
    if store is not None and raw:
        found = [store.sentence_vector(r[0].chunk.doc_id, r[1]) for r in raw]
        if all(v is not None for v in found):
            stored = np.stack(found)
    cos, vecs = _embed(embedder, query, [r[3] for r in raw], stored, query_vector)
    if resolved:
        # "She told the Guardian newspaper …", after a sentence naming Tessa Jowell, is read as saying her name
        # for "Which newspaper did Tessa Jowell speak to?": its likeness is the better of the two readings
        again, _ = _embed(embedder, query, list(resolved.values()), None, query_vector)
        cos = np.array(cos, copy=True)
        for i, c2 in zip(resolved, again):
            cos[i] = max(cos[i], c2)
    forms = {k: v for k, v in other_forms_of_names(query).items() if k in question_stems}
    # the question's names its chunk gives, counted as covered by each of the chunk's sentences: "The pair face a
    # maximum fine" answers "What fine do William Trowbridge and Michael Chicoine face?" when the chunk names them
    chunk_names: dict[str, str] = {}
    out = []
    for n, ((hit, a, b, text, window), cs, vec) in enumerate(zip(raw, cos, vecs)):
        cov_sent = covered_share(question_stems, resolved.get(n, text), forms)
        cov_window = covered_share(question_stems, window, forms)
        named = cov_window
        if asked and cov_window < 1.0:
            key = hit.chunk.chunk_id
            if key not in chunk_names:
                chunk_names[key] = " ".join(sorted(asked - set(names_missing(asked, hit.chunk.text))))
            if chunk_names[key]:
                named = covered_share(question_stems, window + " " + chunk_names[key], forms)
        score = float(cs) + 0.3 * cov_sent + 0.05 / hit.rank
        out.append(Evidence(hit.chunk.doc_id, hit.chunk.title, hit.chunk.chunk_id, a, b, text, hit.chunk.text,
                            hit.rank, float(cs), cov_window, score, vec, named_coverage=named,
                            own_coverage=cov_sent))
    out.sort(key=lambda e: -e.score)
    return out


# a quotation, and the words that say who spoke
_QUOTED = re.compile(r"[“\"][^“”\"]*[”\"]")
_SPEECH = re.compile(r"\b(?:said|says|told|tells|added|adds|warned|wrote|writes|insisted|according)\b", re.I)


# "Who said …?", "Who has warned …?", "Who described the talks as …?": who spoke a quotation
_ASKS_SPEAKER = re.compile(r"^\W*who\s+(?:has\s+|had\s+|have\s+|first\s+)?(?:said|says|told|tells|warned|warns|"
                           r"claimed|claims|described|describes|called|calls|insisted|insists|added|argued|argues|"
                           r"accused|stated|declared|suggested|promised|admitted|predicted|criticised|criticized|"
                           r"announced|announces|confirmed|confirms|reported|reports|revealed|reveals)\b", re.I)


def _speakers(doc) -> list[tuple[int, int]]:
    """The character spans of who speaks in ``doc``: the subject of "said", "told" … ("Tsahkna said", "said
    Witkoff, who was joined … by Jared Kushner": Witkoff), as far as its name goes."""
    out = []
    for t in doc:
        if _SPEECH.fullmatch(t.text):
            for w in t.children:
                if w.dep_ in ("nsubj", "nsubjpass") and w.pos_ == "PROPN":
                    first = min((x for x in w.subtree if x.pos_ == "PROPN" and x.i <= w.i), key=lambda x: x.i)
                    out.append((first.idx, w.idx + len(w)))
    return out


def _neighbour(store, e: Evidence, after: bool) -> tuple[int, int, str, str] | None:
    """The sentence of ``e``'s article just before ``e`` (or just after it): its start and end in the article, its
    text, and what lies between the two as the chunk has it (spaces when a chunk ends there, so that offsets stay
    the article's). It is found in ``e``'s chunk, or in the chunk before (after) it of the same article."""
    pos = store.position(e.chunk_id)
    if pos is None:
        return None
    other = pos + 1 if after else pos - 1
    for c in (store.chunks[pos], store.chunks[other] if 0 <= other < len(store.chunks) else None):
        if c is None or c.doc_id != e.doc_id:
            continue
        found = [(a, b) for a, b in c.sentences if (a >= e.end if after else b <= e.start)]
        if found:
            a, b = found[0] if after else found[-1]
            break
    else:
        return None
    text = c.text[a - c.start:b - c.start]
    if after:
        gap = c.text[e.end - c.start:a - c.start] if e.end >= c.start else " " * (a - e.end)
    else:
        gap = c.text[b - c.start:e.start - c.start] if e.start <= c.end else " " * (e.start - b)
    return a, b, text, gap


# who a statement is attributed to unnamed: "according to President Donald Trump’s special envoy", "a
# spokesman", "an official" (not "according to the report", nor to a name)
_SOURCE_NOUNS = TITLES | {"official", "aide", "adviser", "advisor", "negotiator", "representative", "minister"}


def attributed_source(doc) -> tuple[int, int] | None:
    """The character span of the unnamed person ``doc`` attributes its statement to with "according to": "President
    Donald Trump’s special envoy"; None when there is none, or it is a name ("according to Witkoff") or no
    person ("according to the report")."""
    for t in doc:
        if t.lower_ != "according":
            continue
        to = next((c for c in t.children if c.lower_ == "to"), None)
        p = next((c for c in to.children if c.dep_ == "pobj"), None) if to is not None else None
        if p is not None and p.pos_ == "NOUN" and p.lower_ in _SOURCE_NOUNS and not p.ent_type_:
            sub = list(p.subtree)
            return sub[0].idx, sub[-1].idx + len(sub[-1])
    return None


def named_source(previous_doc, doc) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(where ``previous_doc`` attributes its statement to someone unnamed, where ``doc`` names its one speaker)
    when ``doc`` is the sentence after ``previous_doc`` and its speaker is not named in ``previous_doc``: news
    names in its second sentence the official its first one quotes ("… according to President Donald Trump’s
    special envoy." "The two sides agreed to swap 314 prisoners …, Steve Witkoff said …"). None otherwise."""
    source = attributed_source(previous_doc)
    if source is None:
        return None
    speakers = _speakers(doc)
    if len(speakers) != 1:
        return None
    x, y = speakers[0]
    if plain_words(doc.text[x:y]) & plain_words(previous_doc.text):
        return None  # the first sentence names them already: it does not quote them unnamed
    span = doc.char_span(x, y, alignment_mode="expand")
    name = [span[-1]] if span is not None and len(span) else []
    while name and name[0].i > span.start and doc[name[0].i - 1].pos_ == "PROPN" and not doc[name[0].i - 1].ent_type_ \
            in ("ORG", "GPE", "NORP"):
        name.insert(0, doc[name[0].i - 1])
    if not name or len(name) < len(span) or descriptions(doc, " ".join(t.text for t in name)):
        return None  # one introduced with their own title is someone else: "… according to an Umerov aide." is
        # not "Kremlin spokesman Dmitry Peskov on Thursday said …"
    return source, speakers[0]


def asked_kind(question_doc):
    """The noun a "which"/"what" question asks for a name of, as the subject of its verb: "publisher" of "Which US
    dictionary publisher named 'blog' its top word of 2004?"; None for any other question ("What did he say?",
    "Who …?", "Which company did Google buy?", "What role did Britain play?")."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return None
    for t in question_doc:
        if t.lower_ in ("which", "what") and t.dep_ == "det" and t.head.pos_ == "NOUN" and t.head.i > t.i:
            # (the small parser may read "Which publisher named 'blog' …" as a noun and its participle: the ROOT)
            return t.head if t.head.dep_ in ("nsubj", "nsubjpass", "ROOT") else None
        if t.lower_ in _WH_STOP:
            return None
    return None


_WH_STOP = {"who", "whom", "whose", "when", "where", "why", "how"}


_WHICH_WORDS = re.compile(r"^\W*(?:which|what)\s+((?:[\w'’-]+\s+){0,4})", re.I)


def _may_introduce_unnamed(question: str, sentence: str) -> bool:
    """A test by words alone, before any parse: ``sentence`` has "a"/"an" before one of the words that follow the
    question's "which"/"what" ("by a US dictionary publisher" for "Which US dictionary publisher …?")."""
    m = _WHICH_WORDS.match(question)
    asked = {w.lower() for w in words(m.group(1))} - STOPWORDS if m else set()
    return any(w.lower() in asked for a in re.finditer(r"\b(?:a|an)\s+((?:[\w'’-]+\s+){0,4}[\w'’-]+)", sentence, re.I)
               for w in words(a.group(1)))


def unnamed_mention(doc, kind) -> tuple[int, int] | None:
    """The character span of a phrase of ``doc`` that introduces one of ``kind`` without naming it: "a US dictionary
    publisher" of "The term "blog" has been chosen as the top word of 2004 by a US dictionary publisher." (for
    "publisher"); None when there is none, or it is named where it stands ("a publisher, Merriam-Webster", "the
    publisher Merriam-Webster")."""
    passive = kind.dep_ == "nsubjpass"
    for t in doc:
        if t.pos_ != "NOUN" or t.lemma_.lower() != kind.lemma_.lower() or t.ent_type_:
            continue
        # ... and it does what the question's one does: "by a US dictionary publisher" (the agent) or "a
        # publisher" (the subject) for "Which publisher named …?"; not the object of "Google bought a company"
        doer = t.dep_ == "nsubj" or (t.dep_ == "pobj" and t.head.dep_ == "agent")
        if doer == passive or (passive and t.dep_ not in ("nsubjpass", "dobj")):
            continue
        if not any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in t.children):
            continue
        if any(c.dep_ in ("appos", "compound", "nmod") and c.pos_ == "PROPN" and c.i > t.i for c in t.children):
            continue
        sub = list(t.subtree)
        if any(w.pos_ == "PROPN" and w.i > t.i for w in sub):
            continue  # "a publisher called Merriam-Webster"
        first = next(w for w in sub if w.i <= t.i)
        return first.idx, t.idx + len(t)
    return None


def named_after(previous_doc, doc, question: str, kind: str = "") -> tuple[int, int] | None:
    """The character span of the name ``doc``, the sentence after ``previous_doc``, opens with as its subject, when
    ``previous_doc`` introduces someone or something unnamed (``unnamed_mention``) and neither it nor the question
    gives that name: news names in its second sentence what its first only describes ("… chosen as the top word
    of 2004 by a US dictionary publisher." "Merriam-Webster said "blog" headed the list …"). None otherwise."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    subject = next((c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")), None) if root is not None else None
    if subject is None or subject.pos_ != "PROPN":
        return None
    tokens = [w for w in subject.subtree if w.i <= subject.i]
    if any(w.pos_ not in ("PROPN", "PUNCT") for w in tokens) or tokens[0].i != next(
            (w.i for w in doc if not w.is_punct and not w.is_space), -1):
        return None  # the sentence opens with the name: "Merriam-Webster said …", not "Its rival Collins said …"
    if any(c.dep_ == "appos" and c.pos_ == "NOUN" for c in subject.children):
        return None  # the sentence says what it is, and that is something else: "Technorati, a blog search engine, …"
    x, y = tokens[0].idx, subject.idx + len(subject)
    name = doc.text[x:y]
    if plain_words(name) & (plain_words(previous_doc.text) | plain_words(question)):
        return None
    # ... and it goes on about what the question asks ("blog", "looked-up"), not about a speaker on something else
    # ("Rooney scored twice" after "A player was sent off")
    if not (content_stems(doc.text[y:]) & content_stems(question) & content_stems(previous_doc.text)
            - {stem(kind)}):
        return None
    return x, y


def bare_quote(sentence: str) -> bool:
    """True for a sentence that is all quotation, no one said to speak it: “Therefore, the pressure … feels like
    a betrayal.” (the sentence before says who: “…,” Tsahkna said.)."""
    text = sentence.strip()
    if text[:1] not in "“\"":
        return False
    rest = _QUOTED.sub(" ", text)
    if rest.lstrip()[:1] in "“\"":  # a quotation still open at the sentence's end
        rest = ""
    return not _SPEECH.search(rest) and len(re.findall(r"\w+", rest)) <= 2


_CLOSING_QUOTE = re.compile(r"”|\"(?=\s|$|[^\w\s])")
_OPENING_QUOTE = re.compile(r"“|(?:^|(?<=\s))\"(?=\S)")


def open_quote(sentence: str) -> bool:
    """True when ``sentence`` ends inside a quotation it opened: “Overall, Ukraine’s position is very clear: the
    war must be ended for real. (the quotation goes on in the next sentence)."""
    rest = _QUOTED.sub(" ", sentence)
    return bool(_OPENING_QUOTE.search(rest)) and not _CLOSING_QUOTE.search(rest[_OPENING_QUOTE.search(rest).end():])


def says_who(sentence: str) -> bool:
    """True for a sentence with a quotation and, outside it, who spoke it: “…,” Tsahkna said.; also one that
    closes a quotation opened in a sentence before it: … for this,” Zelenskyy said …"""
    closing = _CLOSING_QUOTE.search(sentence)
    if closing is not None and not _OPENING_QUOTE.search(sentence[:closing.start()]):
        sentence = sentence[closing.end():]  # the end of a quotation that began before
    elif not _QUOTED.search(sentence):
        return False
    return bool(_SPEECH.search(_QUOTED.sub(" ", sentence)))


# a sentence that opens on a pronoun names its subject by it ("She told …", "Its existence was …")
_OPENING_PRONOUN = re.compile(r"^\W*(?P<p>he|she|his|her|it|its|they|their)\b", re.I)


def with_named_subject(sentence: str, previous: str, asked: set[str]) -> str | None:
    """``sentence`` with its opening "He", "She", "It", "They" ("His", "Her", "Its", "Their") replaced by the name
    the question asks about and the sentence before it gives ("She told the Guardian newspaper …" after "…,
    Tessa Jowell, has hit out …"; "It won the Sunday Times award" after a sentence naming Newcastle University),
    the one it gives first when it gives several; None when the sentence opens otherwise, gives that name
    itself, or the sentence before names nothing the question asks about."""
    m = _OPENING_PRONOUN.match(sentence)
    if not m or not asked or not previous:
        return None
    found = [(_first_mention(previous, run), run) for run in asked
             if not names_missing({run}, previous) and names_missing({run}, sentence)]
    found = [f for f in found if f[0] >= 0]
    if not found:
        return None
    name = min(found)[1].title()
    said = name + ("’s" if m.group("p").lower() in ("his", "her", "its", "their") else "")
    return sentence[:m.start("p")] + said + sentence[m.end("p"):]


def _first_mention(text: str, run: str) -> int:
    """Where ``text`` first gives any word of the name ``run`` (case aside); -1 if nowhere."""
    hits = [m.start() for w in run.split() for m in [re.search(rf"\b{re.escape(w)}\b", text, re.I)] if m]
    return min(hits, default=-1)


class Pipeline:
    """Holds the loaded parts; safe to share between threads (the LLM has its own lock)."""

    def __init__(self, settings, store, embedder, generator, index_dir: Path | None = None, scorer=None):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.generator = generator
        self.scorer = scorer  # rag.llm.LikelihoodScorer, or None: the generator scores the answer spans
        self.index_dir = Path(index_dir or settings.index)
        self._nlp = None
        self._nlp_lock = threading.Lock()
        self._spacy_loading = threading.Event()  # set while preload() loads spaCy
        self._parsed: dict = {}  # sentence → spaCy doc, the most recent 256
        self._reload_lock = threading.Lock()
        self._failed_build: Path | None = None
        self.ranker = None  # rag.spans.SpanRanker; None = the trained weights shipped with the package

    def span_ranker(self) -> SpanRanker:
        """The ranker set on this pipeline, else the weights trained on the features this pipeline computes:
        the answer scorer's likelihoods when one is configured, the LLM's otherwise."""
        if self.ranker is not None:
            return self.ranker
        return SpanRanker.load(SCORER_WEIGHTS if self.scorer is not None else WEIGHTS)

    @classmethod
    def from_settings(cls, settings, index_dir: Path | None = None) -> "Pipeline":
        from rag.embedding import make_embedder
        from rag.llm import make_generator, make_scorer
        from rag.store import IndexStore, expected_manifest

        index_dir = Path(index_dir or settings.index)
        embedder = make_embedder(settings)
        store = IndexStore.load(index_dir, expect=expected_manifest(settings, embedder.model_id))
        return cls(settings, store, embedder, make_generator(settings), index_dir, make_scorer(settings))

    # -- index hot swap ------------------------------------------------------------

    def reload_if_changed(self) -> bool:
        """Switch to a newer build of the index once it is complete; the old one serves until then."""
        from rag.store import IndexStore, expected_manifest

        try:
            current = IndexStore.current_build(self.index_dir)
        except Exception:  # noqa: BLE001 - keep serving what we have
            return False
        if current == self.store.path or current == self._failed_build:
            return False
        with self._reload_lock:
            if current == self.store.path:
                return False
            try:
                new = IndexStore.load(self.index_dir, expect=expected_manifest(self.settings, self.embedder.model_id))
            except Exception:
                self._failed_build = current  # do not re-read a bad build on every request; retry once CURRENT moves
                raise
            self.store = new
            log.info("switched to index build %s", new.path.name)
            return True

    def warm_up(self) -> None:
        """Load every lazy model now (embedder, LLM, spaCy, wordfreq's list), so that the first question's
        latency does not include loading them, and a bad LLM file fails here rather than on a question.
        The LLMs and spaCy load in ``preload``'s threads meanwhile."""
        threads = self.preload()
        self.embedder.encode_queries(["warm up"])
        names_missing({"warm up"}, "warm")  # loads wordfreq's word list
        question_stems("warmed up")  # loads simplemma's English lexicon
        for t in threads:
            t.join()
        load = getattr(self.generator, "load", None)
        if load:
            load()  # loaded by now; or the error preload() left for us is raised here
        if self.scorer is not None:
            self.scorer.reserve()  # a server's memory should not grow under load
        self.nlp()

    def preload(self) -> list[threading.Thread]:
        """Start loading what an answer needs after its retrieval, in two threads, while the question is
        embedded and searched: spaCy (the parser, the sentence splitter) in one, the LLM and the answer scorer
        in the other (llama.cpp's loads are C that releases the GIL). A one-question process (``rag ask``)
        then waits for them less. A failure is left for the answer itself to meet and report."""

        def quietly(work):
            try:
                work()
            except Exception as e:  # noqa: BLE001 - the answer loads it again and says what is wrong
                log.debug("preloading failed (%s); the answer will load it", e)

        def load(model):
            with model.lock:
                model.load()

        def models():
            for model in (self.generator, self.scorer):  # each on its own: a bad LLM file leaves the scorer's
                if getattr(model, "lock", None) is not None and getattr(model, "load", None) is not None:
                    quietly(lambda m=model: load(m))

        def spacy():
            from rag.chunking import split_sentences

            try:
                quietly(self.nlp)
                quietly(lambda: split_sentences("Warm up. Now."))
            finally:
                self._spacy_loading.clear()

        self._spacy_loading.set()
        # not daemons: the process never exits in the middle of a load (rag ask exits at once when done)
        threads = [threading.Thread(target=w, name=f"newsrag-preload-{w.__name__}") for w in (spacy, models)]
        for t in threads:
            t.start()
        return threads

    def _is_fragment(self, best: Evidence) -> bool:
        """A best sentence that states no fact of its own: a line without a verb (a caption, a fixture list,
        "Stade de France, Paris"), unless it is a close paraphrase, or a line of one or two words ("France's",
        cosine 0.61), which is no paraphrase either."""
        doc = self._parse(best.text)
        return _too_short(doc) or (best.cosine < PARAPHRASE_COSINE and not _states_something(doc))

    # -- spaCy for answer types -------------------------------------------------------

    def nlp(self):
        with self._nlp_lock:
            if self._nlp is None:
                try:
                    from rag.text import load_parser

                    self._nlp = load_parser()
                except Exception as e:  # noqa: BLE001 - answer types then fall back to numbers only
                    log.warning("spaCy model unavailable (%s); typed answers limited to numbers", e)
                    self._nlp = False
            return self._nlp

    def _parse(self, text: str):
        nlp = self.nlp()
        if not nlp:
            return _NoEntities(text)
        with self._nlp_lock:  # the same sentences are parsed for typed answers and for span candidates
            doc = self._parsed.get(text)
            if doc is None:
                doc = self._parsed[text] = nlp(text)
                if len(self._parsed) > 256:
                    self._parsed.pop(next(iter(self._parsed)))
            return doc

    def _entities(self, text: str, labels):
        return typed_candidates(self._parse(text), labels)

    def _choose_span(self, question: str, evidence: list[Evidence], labels, draft: str, messages,
                     n_sentences: int = 2, foreign: set[str] = frozenset(),
                     holders: Sequence[tuple[int, int]] = (), linked: Sequence[tuple[int, int]] = ()) -> list:
        """The answer-span candidates of the best sentences, ranked (see rag.spans); best first.

        Empty when the generator cannot score continuations (an HTTP server, whose bigger model's own
        words are then kept, verified as usual) or there is nothing to rank.
        """
        scorer = getattr(self.generator, "score", None)
        limit = self.settings.span_llm_candidates
        if scorer is None or not limit:
            return []
        ranker = self.span_ranker()
        docs = [self._parse(e.text) for e in evidence[:n_sentences]]
        candidates = span_candidates(docs, question)
        if asks_who_someone_is(question) and holders and docs:
            # what the person is, as the parse reads it (``descriptions``), is a candidate however long its words
            # run ("son of a Church of Scotland Minister")
            have = {(c.evidence, c.start, c.end) for c in candidates}
            candidates += [Candidate(docs[0].text[a:b], 0, a, b, None, "subtree", doc=docs[0]) for a, b in holders
                           if (0, a, b) not in have and len(words(docs[0].text[a:b])) <= 2 * MAX_SPAN_WORDS]
        draft_answer = answer_phrase(draft, question)
        question_doc = self._parse(question)
        for c in candidates:
            c.features = candidate_features(c, evidence, question, labels, draft_answer, question_doc)
        if labels:
            # the ranker picks only what verification accepts for a typed question: a span from a sentence
            # close to the question, of the asked-for type ("where" may also be answered by a thing)
            numeric = bool(set(labels) & NUMERIC_TYPES)
            named = bool(set(labels) & NAME_TYPES)
            candidates = [c for c in candidates
                          if _fits_question(evidence[c.evidence], c.start, c.end, c.text, c.label, question, labels,
                                            evidence[0])
                          and (_close_to_question(evidence[c.evidence]) or (
                              c.features["counted_noun"] and evidence[c.evidence].coverage >= self.settings.min_coverage))
                          and (c.features["type_match"] or labels[0] in SOFT_TYPES
                               or (numeric and c.features["has_digit"])      # "314 prisoners" for how many
                               or (named and c.kind == "name"))]             # a name the NER missed
        # "Russia’s Vladimir Putin" for "Where did Trump host Vladimir Putin?": it qualifies what the
        # question names, it does not answer it
        candidates = [c for c in candidates if not c.features["owner_of_question"]
                      and not _place_for_person(c.doc, c.start, c.end, c.label, question)
                      and not _does_what_is_asked(c.doc, c.start, c.end, question_doc)
                      and not about_another_person(evidence[c.evidence].text, question_doc)
                      and not past_for_future(c.doc, c.start, c.end, question)
                      and not about_another_country(c.doc, c.start, c.end, question_doc)
                      and (_within(c.evidence, c.start, c.end, linked)
                           or not _role_of_another(c.doc, c.start, c.end, question_doc,
                                                   evidence[c.evidence].cosine >= PARAPHRASE_COSINE))
                      and evidence[c.evidence].doc_id not in foreign]  # see ``_articles_not_naming``
        candidates = _holding(candidates, holders, lambda c: (c.evidence, c.start, c.end))
        if asks_score(question):
            # a score is written "18-10": "three" (penalties) or "Six" is no score of the match, nor "6-3" one set of
            # "2-6 6-3 6-0"
            candidates = [c for c in candidates if is_score(c.doc.text, c.start, c.end)]
        if not labels and not _ASKS_A_NAME.search(question):
            # "Jared Kushner" does not answer "What is Kushner's relation to Trump?": a name alone of someone the
            # question names is who it is about (typed questions check it in ``_fits_question``; "What is
            # Kushner's full name?" asks for it)
            # (a person's: "Southwest Fresno" may answer "What is another name for the west side of Fresno?")
            candidates = [c for c in candidates if not (c.label == "PERSON" and _all_names(c.text)
                                                        and _is_asked_name(c.text, question))]
        if not set(labels or ()) & {"DATE", "TIME"}:
            # "Which directive mentioned was created in 1994?" is not "the 1996 Parental Leave Directive": a year the
            # question does not give is another time's (a "when" question asks for one)
            candidates = [c for c in candidates if not another_year(c.text, question)]
        if not set(labels or ()) & NUMERIC_TYPES and asks_no_number(question_doc):
            # "Why did Harvard end its early admission program?" is not "2007", "What proclamation …?" not "1685"
            candidates = [c for c in candidates if not bare_number(c.text)]
        person = asks_who_someone_is(question)
        if person:
            # "Who is Witkoff?" asks what he is, which a name, his ("Steve Witkoff") or another's ("Russian
            # President Vladimir Putin"), a place, a date or a number does not say: a phrase does, of no entity
            # type and not headed by a name, unless it is the asked person's ("Kremlin spokesman Dmitry Peskov")
            candidates = [c for c in candidates if c.label is None and c.kind in ("chunk", "subtree", "quote")
                          and not _names_someone_else(c, person)]
            # ... and a phrase its sentence ties to the person says it, where there is one: "national security
            # chief" of "national security chief Rustem Umerov", not "the talks" he called meaningful
            # (the words of the sentence before that quote the person unnamed, when evidence[0] is the two read
            # together: "President Donald Trump’s special envoy")
            # (none: no phrase of the best sentences is known to say it, and the likeliest would be a guess)
            candidates = [c for c in candidates if _describes(c.doc, c.start, c.end, person)
                          or _within(c.evidence, c.start, c.end, linked, ending=True)]
        if not candidates:
            return []
        add_answered_cos(candidates, [e.text for e in evidence[:n_sentences]], question, question_doc, self.embedder,
                         [e.vector for e in evidence[:n_sentences]])
        if self.scorer is not None:
            # the scorer reads the prompt first, which gives every candidate's first-token log-probability for
            # the shortlist; then it scores the shortlist's spans in full
            position = {id(c): i for i, c in enumerate(candidates)}

            def select(firsts: list[float]) -> list[int]:
                for c, lp in zip(candidates, firsts):
                    c.features["lp_first"] = max(LP_FLOOR, lp)
                return [position[id(c)] for c in ranker.shortlist(candidates, limit)]

            rated = self.scorer.score_shortlist([e.text for e in evidence[:n_sentences]], question,
                                                [c.text for c in candidates], select)
            if rated is None:
                shortlist, scores = ranker.shortlist(candidates, limit), None
            else:
                shortlist = [candidates[i] for i in rated[1]]
                scores = list(rated[1].values())
        else:
            shortlist = ranker.shortlist(candidates, limit)
            scores = scorer(messages, [c.text for c in shortlist])
        if scores is None:
            # a scorer that failed leaves the evidence features (and the first tokens' log-probabilities, if it
            # got that far); the LLM that cannot score keeps its own words
            return ranker.rank(shortlist, with_llm=False) if self.scorer is not None else []
        for c, (lp_sum, lp_end, n_tokens) in zip(shortlist, scores):
            c.features.update(llm_features(lp_sum, lp_end, n_tokens))
        return ranker.rank(shortlist, with_llm=True)

    def _with_speaker(self, store, e: Evidence) -> tuple[Evidence, list[tuple[int, int]]] | None:
        """``e``, a sentence that is all quotation, read together with the sentence before it in its article
        when that one says who spoke (“…,” Tsahkna said. “Therefore, the pressure … feels like a betrayal.”),
        or, when its quotation is still open at its end, with the sentences after it up to the one that closes
        the quotation and says who spoke (“Overall, … the war must be ended for real. Russia must be ready for
        this,” Zelenskyy said …): the speaker is then in the evidence, and its quote shows them all; with where
        the speakers' names are in its text. None otherwise."""
        if not bare_quote(e.text):
            return None
        if open_quote(e.text):
            found = self._speaker_after(store, e)
            if found is not None:
                return found
        before = _neighbour(store, e, after=False)
        if before is None:
            return None
        a, _, previous, gap = before
        if not says_who(previous):
            return None
        speakers = _speakers(self._parse(previous))
        if not speakers:
            return None
        return replace(e, start=a, text=previous + gap + e.text), speakers

    def _speaker_after(self, store, e: Evidence, most: int = 3) -> tuple[Evidence, list[tuple[int, int]]] | None:
        """``e``, which opens a quotation, read with the next sentences of its article up to the one that closes
        it (at most ``most`` of them), when that one says who spoke after the quotation ("… for this,” Zelenskyy
        said in his daily address …"); with where the speakers' names are in the joined text. None otherwise."""
        joined = e
        for _ in range(most):
            after = _neighbour(store, joined, after=True)
            if after is None:
                return None
            _, b, text, gap = after
            offset = len(joined.text) + len(gap)
            joined = replace(joined, end=b, text=joined.text + gap + text)
            closing = _CLOSING_QUOTE.search(text)
            if _OPENING_QUOTE.search(text[:closing.start()] if closing else text):
                return None  # a new quotation opens first: the one ``e`` opened does not close here
            if closing is None:
                continue
            outside = _QUOTED.sub(" ", text[closing.end():])
            if not _SPEECH.search(outside):
                return None
            speakers = [(offset + x, offset + y) for x, y in _speakers(self._parse(text)) if x >= closing.end()]
            return (joined, speakers) if speakers else None
        return None

    def _source_named_next(self, store, e: Evidence, forms=None):
        """``e`` read with the next sentence of its article, and where the speaker's name is in the joined text,
        when ``e`` attributes what it says to someone unnamed whom the next sentence names (``named_source``)
        — someone with the role ``forms`` (``role_forms``) when given. None otherwise."""
        doc = self._parse(e.text)
        source = attributed_source(doc)
        if source is None or forms is not None and not any(
                any(source[0] <= r.start_char and r.end_char <= source[1] for r in _occurrences(doc, f)) for f in forms):
            return None
        after = _neighbour(store, e, after=True)
        if after is None:
            return None
        a, b, text, gap = after
        linked = named_source(doc, self._parse(text))
        if linked is None:
            return None
        x, y = linked[1]
        joined = e.text + gap + text
        return replace(e, end=b, text=joined), [(len(e.text) + len(gap) + x, len(e.text) + len(gap) + y)]

    def _named_next(self, store, e: Evidence, kind, question: str):
        """``e`` read with the next sentence of its article, and where the name is in the joined text, when ``e``
        introduces one of ``kind`` unnamed and the next sentence opens with its name (``named_after``): "… by a
        US dictionary publisher." "Merriam-Webster said …". None otherwise."""
        if unnamed_mention(self._parse(e.text), kind) is None:
            return None
        after = _neighbour(store, e, after=True)
        if after is None:
            return None
        _, b, text, gap = after
        found = named_after(self._parse(e.text), self._parse(text), question, kind.text)
        if found is None:
            return None
        x, y = found
        offset = len(e.text) + len(gap)
        return replace(e, end=b, text=e.text + gap + text), [(offset + x, offset + y)]

    def _score_next(self, store, e: Evidence):
        """``e`` read with the next sentence of its article, and where the score is in the joined text, when that
        sentence writes one score, not one on the way ("led 6-3 at the break"), and ``e`` none. None otherwise."""
        after = _neighbour(store, e, after=True)
        if after is None or has_score(e.text):
            return None
        _, b, text, gap = after
        runs = score_runs(text)
        if len(runs) != 1 or interim_score(text, *runs[0]):
            return None
        offset = len(e.text) + len(gap)
        return replace(e, end=b, text=e.text + gap + text), [(offset + runs[0][0], offset + runs[0][1])]

    def _source_named(self, store, e: Evidence, forms=None, person: str | None = None):
        """``e`` read with the sentence beside it when news names there the official it quotes unnamed
        ("… according to President Donald Trump’s special envoy." "…, Steve Witkoff said …", ``named_source``),
        and where in the joined text the answer is: for the role ``forms`` (``role_forms``), ``e`` being the
        sentence that gives the role, the speaker's name; for ``person``, ``e`` being one where they speak, the
        words that say what they are. None when ``e`` and its neighbour are not such a pair."""
        if forms is not None:
            return self._source_named_next(store, e, forms)
        own = plain_words(person or "")
        speakers = [(x, y) for x, y in _speakers(self._parse(e.text)) if own & plain_words(e.text[x:y])]
        if not speakers:
            return None
        before = _neighbour(store, e, after=False)
        if before is None:
            return None
        a, b, text, gap = before
        linked = named_source(self._parse(text), self._parse(e.text))
        if linked is None or not own & plain_words(e.text[linked[1][0]:linked[1][1]]):
            return None
        return replace(e, start=a, text=text + gap + e.text), [linked[0]]

    def _put_first(self, found, hits, evidence, q_stems, query, retriever):
        """(hits, evidence, note, hit) with the sentence a search of the whole index ``found`` ((hit, start of the
        sentence, note), from ``_role_in_corpus`` or ``_description_in_corpus``) first in the evidence and its
        chunk among the hits; None when it found nothing."""
        if found is None:
            return None
        hit, sentence, note = found
        new = [e for e in gather_evidence([hit], q_stems, self.embedder, query, store=self.store,
                                          query_vector=retriever.query_vector) if e.start == sentence]
        if not new:
            return None
        if all(h.chunk.chunk_id != hit.chunk.chunk_id for h in hits):
            hits = [*hits, hit]
        evidence = new + [e for e in evidence if (e.doc_id, e.start) != (new[0].doc_id, sentence)]
        return hits, evidence, note, hit

    def _corpus_vote(self, found: list, keys_of):
        """(the sentences read, [(key, the indices of the sentences that give it)] most given first) for
        ``found`` ((chunk, start, end) of sentences of the index) — all of them, or an even sample of
        ``ROLE_CORPUS_SENTENCES`` across the index when there are more (not the first articles' only) — each
        parsed and ``keys_of(doc)`` giving what it says (the names it ties to a role, the words it says a person
        is); None when there is nothing to read, no parser, or none says anything."""
        if not found or ROLE_CORPUS_SENTENCES < 1:
            return None
        if len(found) > ROLE_CORPUS_SENTENCES:
            step = len(found) / ROLE_CORPUS_SENTENCES
            found = [found[int(k * step)] for k in range(ROLE_CORPUS_SENTENCES)]
        nlp = self.nlp()
        if not nlp:
            return None
        with self._nlp_lock:
            docs = list(nlp.pipe([c.text[a - c.start:b - c.start] for c, a, b in found]))
        said: dict[str, list[int]] = {}
        for k, doc in enumerate(docs):
            for key in keys_of(doc):
                if k not in said.setdefault(key, []):
                    said[key].append(k)
        if not said:
            return None
        return found, sorted(said.items(), key=lambda kv: (-len(kv[1]), kv[1][0]))

    def _description_in_corpus(self, store, person: str, n_hits: int):
        """(a hit, the start of its sentence, a note) for the sentence of the whole index that says what
        ``person`` is in the words most such sentences use ("Prime Minister Tony Blair": 31 of the BBC's sentences
        naming him with a title say so); None when none does. Like ``_role_in_corpus``, the sentences that put a
        title or a phrase next to the name are parsed, or an even sample of ``ROLE_CORPUS_SENTENCES`` of them."""
        name = re.escape(person).replace("\\ ", r"\s+")
        titles = "|".join(sorted(TITLES))
        near = re.compile(rf"(?:\b[A-Z][\w'’.-]*|\b(?i:{titles}|[\w-]+-in-law))\s+{name}\b"
                          rf"|\b{name},\s+(?:the|a|an|who|[a-z]+)\b|\b{name}\s+(?:\([^)]*\)\s+)?(?:is|was)\s+(?:the|a|an)\b")
        last = person.split()[-1]
        found = [(chunk, a, b) for chunk in store.chunks if last in chunk.text
                 for a, b in chunk.sentences if near.search(chunk.text[a - chunk.start:b - chunk.start])]
        voted = self._corpus_vote(found, lambda doc: [" ".join(w.lower() for w in words(doc.text[x:y]))
                                                      for x, y in descriptions(doc, person)])
        if voted is None:
            return None
        found, ranked = voted
        phrase, where = ranked[0]
        chunk, a, _ = found[where[0]]
        others = ", ".join(f"{p} ({len(w)})" for p, w in ranked[1:4])
        note = (f"no passage retrieved says what {person} is; " + (
            f"the one sentence of the articles that puts words next to the name says {phrase!r}" if len(found) == 1 else
            f"of the {len(found)} sentences of the articles that put words next to the name, {len(where)} say "
            f"{phrase!r}" + (f" (others: {others})" if others else "")))
        return Hit(chunk, 0.0, None, None, n_hits + 1), a, note

    def _role_in_corpus(self, store, role, forms: list[list[str]], n_hits: int):
        """(a hit, the start of its sentence, a note) for the sentence of the whole index that ties to the role
        ``role`` (the question's tokens; ``forms`` the ways it is written, ``role_forms``) the name most such
        sentences tie to it; None when no sentence does. Sentences that put a name next to the role's words are
        parsed: all of them, or an even sample of ``ROLE_CORPUS_SENTENCES`` across the index when there are more."""
        def written(words: list[str]) -> str:  # "french 's president": "French's president", "France’s …"
            return r"\s*".join(re.sub("['’]", "['’]", re.escape(w)) for w in words)
        pattern = "|".join(written(f) for f in forms)
        near = re.compile(rf"\b(?i:{pattern})\s+[A-Z]|[A-Z][\w'’.-]*,\s+(?i:the\s+)?(?i:{pattern})\b"
                          rf"|\b(?:is|was|became|as)\s+(?i:the\s+)?(?i:{pattern})\b")
        asked = forms[0]  # the longest word of its title is in every article that writes it
        longest = max(asked[:asked.index("of")] if "of" in asked else asked, key=len)
        found = [(chunk, a, b) for chunk in store.chunks if longest in chunk.text.lower()
                 for a, b in chunk.sentences if near.search(chunk.text[a - chunk.start:b - chunk.start])]
        voted = self._corpus_vote(found, lambda doc: [re.sub(r"['’]s?$", "", doc.text[x:y])  # "Gordon Brown's" too
                                                      for x, y in holders_of(doc, forms)])
        if voted is None:
            return None
        found, ranked = voted
        name, where = ranked[0]
        chunk, a, _ = found[where[0]]
        others = ", ".join(f"{n} ({len(w)})" for n, w in ranked[1:4])
        asked = role[0].doc.text[role[0].idx:role[-1].idx + len(role[-1])]  # "India's finance minister", as asked
        note = (f"no passage retrieved names the {asked}; " + (
            f"the one sentence of the articles that puts a name next to it names {name}" if len(found) == 1 else
            f"of the {len(found)} sentences of the articles that put a name next to it, {len(where)} name {name}"
            + (f" (others: {others})" if others else "")))
        return Hit(chunk, 0.0, None, None, n_hits + 1), a, note

    # -- the pipeline ----------------------------------------------------------------

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), **kw) -> Answer:
        result = None
        for part in self.ask_stream(question, history, **kw):
            if isinstance(part, Answer):
                result = part
        return result

    def ask_stream(self, question: str, history: Sequence[tuple[str, str]] = (), top_k: int | None = None,
                   mode: str | None = None, verify: bool | None = None) -> Iterator[str | Answer]:
        s = self.settings
        t0 = time.perf_counter()
        asked = question = clean_question(question, s.max_question_chars)
        question = as_asked(question)
        verify = s.verify if verify is None else verify
        store = self.store
        query = question
        q_stems = question_stems(question)
        if history and not refers_back(question):
            history = ()  # a question that stands alone is answered as if it were the first of the conversation
        if history:  # a follow-up ("Who brokered it?") is searched together with the previous question
            prev_q = history[-1][0]
            query = f"{prev_q} {question}"
            q_stems = q_stems | question_stems(prev_q) if len(q_stems) < 3 else q_stems
        retriever = Retriever.from_settings(store, self.embedder, s, mode)
        hits = retriever.search(query, top_k or s.top_k)
        evidence = gather_evidence(hits, q_stems, self.embedder, query, store=store,
                                   query_vector=retriever.query_vector) if hits else []
        timings = {"retrieve": time.perf_counter() - t0}
        # "who is dmitry peskov?" is asked as "Who is Dmitry Peskov?": the names the passages write are names to
        # the checks below and to the model (the search above ignores case)
        question = truecase(question, [h.chunk.text for h in hits])

        def finish(text, abstained, claims=(), draft="", notes=()):
            citations, body = _render(claims, evidence)
            timings.setdefault("first_token", timings.get("first_token", 0.0))
            timings.setdefault("generate", 0.0)
            timings["total"] = time.perf_counter() - t0
            return Answer(asked, body if not abstained else text, abstained,
                          citations if not abstained else [], hits, dict(timings), draft, list(notes))

        if not evidence:
            yield finish(ABSTAIN_TEXT, True, notes=["nothing retrieved"])
            return
        best = evidence[0]
        # a name or a number the question asks about (France, Witkoff, 2026) must occur somewhere in what was
        # retrieved: passages about the 2005 contest do not say who won in 2026
        retrieved_text = "\n".join(f"{h.chunk.title}\n{h.chunk.text}" for h in hits)
        asked_names = name_runs(question)
        missing_names = names_missing(asked_names, retrieved_text) + numbers_missing(question, retrieved_text)
        # ... and an answer comes from an article that names them all, when the best one does: "How many people
        # died in the missile attack on Kyiv?" is not answered from a report of deaths elsewhere retrieved beside it
        # (a count or an amount only from an article that names them all, even when none does: "How many jobs
        # will the Home Office lose?" is not answered by a report of cuts that never names it)
        numeric = bool(set(expected_labels(question) or ()) & NUMERIC_TYPES)
        foreign = (_articles_not_naming(evidence, hits, store, question, asked_names, strict=numeric)
                   if not missing_names and not history and (asked_names or numbers_in(question)) else set())
        if verify and numeric and foreign and all(e.doc_id in foreign for e in evidence):
            timings.update(first_token=0.0, generate=0.0)
            yield finish(ABSTAIN_TEXT, True, notes=[
                f"a number is asked, and no article retrieved names all of {', '.join(sorted(asked_names))}: "
                "its numbers are about something else"])
            return
        if foreign and best.doc_id in foreign:
            # the best sentence's article lacks a name the question asks about and another names them all: the
            # latter's sentences come first (the order is otherwise kept)
            evidence = [e for e in evidence if e.doc_id not in foreign] + [e for e in evidence if e.doc_id in foreign]
            best = evidence[0]
        # (parsed only when it reads as one: spaCy may still be loading for the first question of a process)
        role = asked_role(self._parse(question)) if verify and _WHO_ROLE.match(question) else None
        holders: list[tuple[int, int]] = []  # in evidence[0], the names it gives the asked role
        linked_holders: list[tuple[int, int]] = []  # ... when evidence[0] is two sentences read together
        role_notes: list[str] = []
        if role:
            # "Who is the Tory leader?": the sentence that ties a name to the role ("Tory leader Michael Howard
            # accepted …") answers it, where it stands among the best few, before those that only say "the Tory
            # leader" ("The Tory leader argued …")
            forms = role_forms(role)  # "president of France", "French president" …
            said = next((i for i, e in enumerate(evidence[:ROLE_SENTENCES]) if e.doc_id not in foreign
                         and any(all(w.replace("’", "'") in e.text.lower().replace("’", "'") for w in f)
                                 for f in forms)
                         and holders_of(self._parse(e.text), forms)), None)
            bare = _bare_title(role) if said is None else None
            if bare:
                # "Who is the Fox chief executive?" of "Chief executive Gail Berman said …", in the report headed
                # "Fox 'too reliant on reality TV'": the title alone, in an article whose headline names the
                # role's name (no country's), and given to no other's ("NBC chief executive Jeff Zucker")
                named = [t.lower_ for t in role[:len(role) - len(bare)] if _named(t)]
                said = next((i for i, e in enumerate(evidence[:ROLE_SENTENCES]) if e.doc_id not in foreign
                             and _bare_holders(self._parse(e.text), bare)
                             and _writes_role(_headline(store, e), [named])), None)
                if said is not None:
                    forms = forms + [bare]
            linked = None if said is not None else next(
                (x for e in evidence[:ROLE_SENTENCES] if e.doc_id not in foreign
                 for x in [self._source_named(store, e, forms=forms)] if x), None)
            if said is not None:
                evidence = [evidence[said]] + evidence[:said] + evidence[said + 1:]
            elif linked is not None:
                # "… according to President Donald Trump’s special envoy." "…, Steve Witkoff said …": the two
                # sentences answer together, and the name is the one the second gives
                joined, link_holders = linked
                evidence = [joined] + [e for e in evidence if (e.doc_id, e.start) != (joined.doc_id, joined.start)]
                best = evidence[0]
            elif not history:
                # none of them names the holder: the articles that do ("Culture Secretary Tessa Jowell said …")
                # are found by the role's words, and the name most of them give is taken, with its sentence
                taken = self._put_first(self._role_in_corpus(store, role, forms, len(hits)), hits, evidence,
                                        q_stems, query, retriever)
                if taken is not None:
                    hits, evidence, note, hit = taken
                    role_notes.append(note)
                    retrieved_text += f"\n{hit.chunk.title}\n{hit.chunk.text}"
                    missing_names = (names_missing(asked_names, retrieved_text)
                                     + numbers_missing(question, retrieved_text))
            if said is not None or role_notes:
                # ... and the name it gives is the answer, not another name beside it; the sentence is the
                # evidence the gates below weigh, and it states a fact, verb or not ("…; Costa Rican President
                # José María Figueres; …")
                holders = holders_of(self._parse(evidence[0].text), forms)
                best = evidence[0]
            elif linked is not None:
                holders = linked_holders = link_holders
            elif not history and len(_role_words(role)) < len(role) \
                    and any(set(_role_words(role)) <= set(re.findall(r"\w+", e.text.lower()))
                            for e in evidence[:ROLE_SENTENCES]) \
                    and not any(_writes_role(e.text, forms, role) for e in evidence[:ROLE_SENTENCES]):
                # no sentence, retrieved or not, ties a name to the role, and the best write it only for another:
                # "Who is the Belgian prime minister?" is not answered by "Michael Howard has no doubt it is the
                # prime minister who …"
                timings.update(first_token=0.0, generate=0.0)
                asked = role[0].doc.text[role[0].idx:role[-1].idx + len(role[-1])]
                yield finish(ABSTAIN_TEXT, True, notes=[f"no passage names the {asked}, and no article ties a name "
                                                        "to it"])
                return
        person = asks_who_someone_is(question) if verify and not history else None
        if person:
            # "Who is Steve Witkoff?" of a sentence where he speaks, after one that quotes him unnamed ("…
            # according to President Donald Trump’s special envoy."): the two answer together, with those words
            linked = next((x for e in evidence[:ROLE_SENTENCES] if e.doc_id not in foreign
                           for x in [self._source_named(store, e, person=person)] if x), None)
            if linked is not None:
                joined, holders = linked
                linked_holders = holders
                evidence = [joined] + [e for e in evidence if (e.doc_id, e.end) != (joined.doc_id, joined.end)]
                best = evidence[0]
            else:
                # the best sentences that say what the person is come first; when none does ("Who is Tony
                # Blair?" of sentences that only name him), the articles that do are found by the name, and the
                # words most of them use are taken, with their sentence
                said = next((i for i, e in enumerate(evidence[:ROLE_SENTENCES]) if e.doc_id not in foreign
                             and descriptions(self._parse(e.text), person)), None)
                if said is not None:
                    evidence = [evidence[said]] + evidence[:said] + evidence[said + 1:]
                    best = evidence[0]
                elif not missing_names:
                    taken = self._put_first(self._description_in_corpus(store, person, len(hits)), hits, evidence,
                                            q_stems, query, retriever)
                    if taken is not None:
                        hits, evidence, note, _ = taken
                        best = evidence[0]
                        role_notes.append(note)
                if evidence and descriptions(self._parse(evidence[0].text), person):
                    # the words that say it answer, not a likelier phrase beside them (and past the floor)
                    holders = descriptions(self._parse(evidence[0].text), person)
        if verify and not role and _ASKS_SPEAKER.match(question):
            # "Who said the pressure … feels like a betrayal?" of a quotation that does not say who: the
            # sentence before it does ("…,” Tsahkna said."), and is read with it
            spoken = self._with_speaker(store, best)
            if spoken is not None:
                best, holders = spoken  # the answer is who spoke, not another name the sentence gives
                evidence = [best] + evidence[1:]
            else:
                # "Who announced the prisoner exchange?" of "… agreed to exchange prisoners …, according to
                # President Donald Trump’s special envoy.": the next sentence names him ("…, Steve Witkoff said")
                linked = self._source_named_next(store, best)
                if linked is not None:
                    best, holders = linked
                    linked_holders = holders
                    evidence = [best] + [e for e in evidence[1:] if (e.doc_id, e.start) != (best.doc_id, best.start)]
        # (parsed only when the best sentence may introduce one unnamed: spaCy may still be loading for the first
        # question of a process, and the checks below wait for it only when they must)
        kind = asked_kind(self._parse(question)) if verify and not role and not person and not holders \
            and not history and best.doc_id not in foreign and _may_introduce_unnamed(question, best.text) else None
        if kind is not None:
            # "Which US dictionary publisher named 'blog' its top word of 2004?" of "… chosen as the top word of
            # 2004 by a US dictionary publisher.": the next sentence names it ("Merriam-Webster said …"), and is
            # read with it
            linked = self._named_next(store, best, kind, question)
            if linked is not None:
                best, holders = linked
                linked_holders = holders
                evidence = [best] + [e for e in evidence[1:] if (e.doc_id, e.start) != (best.doc_id, best.start)]
        if verify and not role and not person and not holders and not history and best.doc_id not in foreign \
                and asks_score(question) and not any(has_score(e.text) for e in evidence[:2]):
            # "What was the score in the Australian Open final …?" of a report's first sentence ("Serena Williams
            # staged a remarkable recovery to beat Lindsay Davenport …"): the next one gives it ("… 2-6 6-3 6-0."),
            # and is read with it
            linked = self._score_next(store, best)
            if linked is not None:
                best, holders = linked
                linked_holders = holders
                evidence = [best] + [e for e in evidence[1:] if (e.doc_id, e.start) != (best.doc_id, best.start)]
        # one line in the (cosine, coverage) plane, fitted on questions asked of their own articles and of
        # others (eval/calibrate_abstention.py): a close paraphrase needs few of the question's words, a
        # sentence holding most of them little likeness ("What is the NASUWT?": MiniLM does not know it)
        # (a follow-up too: "What about Peru?" is not answered from passages that never name Peru)
        weak = best.cosine + s.evidence_coverage_weight * best.coverage < s.min_evidence or bool(missing_names)
        # a best sentence that states no fact of its own does not answer, unless it holds every word of the
        # question (``_is_fragment``)
        check_fragment = verify and not weak and best.coverage < 1.0 and not holders
        # spaCy still loading in preload()'s thread (the first question of a ``rag ask`` process): the draft is
        # written meanwhile and the same check runs after it; the answer is the same, only sooner
        later = check_fragment and self._nlp is None and self._spacy_loading.is_set() and not is_yes_no(question)
        fragment = check_fragment and not later and self._is_fragment(best)
        if verify and (weak or fragment):
            timings.update(first_token=0.0, generate=0.0)
            yield finish(ABSTAIN_TEXT, True, notes=[_weak_note(best, missing_names, fragment)])
            return

        if verify and is_yes_no(question):
            # "Did Tsahkna meet Zelenskyy in Kyiv?": no span answers yes or no, and a small model's "Yes" is
            # a guess. The answer is the sentence that says it, one close to the question that names everyone
            # and everything the question names; without one, the articles do not say.
            said = next((i for i, e in enumerate(evidence[:3]) if e.doc_id not in foreign and _close_to_question(e)
                         and not names_missing(asked_names, e.text) and not numbers_missing(question, e.text)), None)
            timings.update(first_token=0.0, generate=0.0)
            if said is None:
                yield finish(ABSTAIN_TEXT, True, notes=["a yes/no question, and no sentence close to it names "
                                                        f"{', '.join(sorted(asked_names)) or 'what it asks about'}"])
            else:
                yield finish("", False, [Claim(evidence[said].text, said, "quote")],
                             notes=["a yes/no question: the sentence that says it is quoted"])
            return

        top = evidence[:3]
        messages = build_messages(question, [e.text for e in evidence[:s.draft_passages]], history)
        t_gen = time.perf_counter()
        parts: list[str] = []
        try:
            for delta in self.generator.stream(messages, s.llm_max_tokens):
                if not parts:
                    timings["first_token"] = time.perf_counter() - t0
                parts.append(delta)
                yield delta
        except Exception:
            if later and self._is_fragment(best):  # the check would have abstained without asking the LLM
                timings.update(first_token=0.0, generate=0.0)
                yield finish(ABSTAIN_TEXT, True, notes=[_weak_note(best, missing_names, True)])
                return
            raise
        draft = "".join(parts).strip()
        timings["generate"] = time.perf_counter() - t_gen
        timings.setdefault("first_token", time.perf_counter() - t0)
        if later and self._is_fragment(best):
            yield finish(ABSTAIN_TEXT, True, draft=draft, notes=[_weak_note(best, missing_names, True)])
            return

        if not verify:
            claims = _trusting_claims(draft, evidence[:s.draft_passages])
            if not claims:
                yield finish(ABSTAIN_TEXT, True, draft=draft)
            else:
                yield finish("", False, claims, draft)
            return

        claims, notes = attribute_sentences(answer_phrase(draft, question), evidence, question=question)
        notes = role_notes + notes
        if foreign and any(evidence[c.evidence].doc_id in foreign for c in claims):
            notes.append("removed what the model took from articles that do not name "
                         f"{', '.join(sorted(asked_names) or numbers_in(question))}")
            claims = [c for c in claims if evidence[c.evidence].doc_id not in foreign]
        labels = expected_labels(question)
        if labels:
            # a typed answer must sit next to what the question is about: most of its words, not just one
            noun = counted_noun(question, self._parse(question))
            candidates = [(i, a, b, lab) for i, e in enumerate(top) if e.doc_id not in foreign
                          for a, b, lab in self._entities(e.text, labels)
                          if not _repeats_question(e.text[a:b], question)
                          and _fits_question(e, a, b, e.text[a:b], lab, question, labels, evidence[0])
                          # ... or it counts what the question counts ("in five months" for how many months)
                          and (_close_to_question(e) or (e.coverage >= s.min_coverage
                                                          and counts_noun(e.text, a, b, noun, after=2,
                                                                          doc=self._parse(e.text))))]
            # a name the sentence does not give the asked role is no answer: "the Liverpool boss is looking
            # forward to having skipper Steven Gerrard" does not say who the boss is
            question_doc = self._parse(question)
            candidates = [c for c in candidates if _within(c[0], c[1], c[2], linked_holders)
                          or not _role_of_another(self._parse(top[c[0]].text), c[1], c[2], question_doc,
                                                  top[c[0]].cosine >= PARAPHRASE_COSINE)
                          and not _does_what_is_asked(self._parse(top[c[0]].text), c[1], c[2], question_doc)
                          and not about_another_person(top[c[0]].text, question_doc)
                          and not past_for_future(self._parse(top[c[0]].text), c[1], c[2], question)
                          and not about_another_country(self._parse(top[c[0]].text), c[1], c[2], question_doc)
                          # (a year the question does not give, unless it asks when: ``another_year``)
                          and (bool(set(labels) & {"DATE", "TIME"}) or not another_year(top[c[0]].text[c[1]:c[2]],
                                                                                         question))]
            if holders and "PERSON" in labels:
                # a name tied to the asked role is a person, found by the NER or not ("Rustem Umerov")
                candidates += [(0, a, b, "PERSON") for a, b in holders if (0, a, b) not in {c[:3] for c in candidates}]
            if asks_score(question):
                # every set of a score together ("2-6 6-3 6-0"), which the NER reads as numbers apart
                candidates += [(i, a, b, "CARDINAL") for i, e in enumerate(top) if e.doc_id not in foreign
                               for a, b in score_runs(e.text) if (i, a, b) not in {c[:3] for c in candidates}
                               and (_close_to_question(e) or i == 0 and holders)]
            candidates = _holding(candidates, holders, lambda c: (c[0], c[1], c[2]))
            # "in Abu Dhabi" does not say who (``_place_for_person``): another candidate is taken if there is one.
            # A place still tells the passages name something of the kind: the name the NER missed ("Rustem
            # Umerov") is the span ranker's to find
            answers = [c for c in candidates if not _place_for_person(self._parse(top[c[0]].text), c[1], c[2], c[3],
                                                                      question)] or candidates
            if asks_score(question):  # "18-10", not the "three" points of a penalty, nor "18" of it, nor a year
                answers = [c for c in answers if is_score(top[c[0]].text, c[1], c[2])]
                if not answers:
                    yield finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + ["no score in the best passages"])
                    return
            typed_ok = claims and claims[0].kind == "span" and (any(
                i == claims[0].evidence and _overlaps(top[i].text, a, b, claims[0].text) for i, a, b, _ in answers)
                # "where" may be answered by a thing, not a named place ("in committees"): a passage span that
                # says something the question does not is kept
                or (labels[0] in SOFT_TYPES and not _repeats_question(claims[0].text, question)
                    and not _subject_of_asked(evidence[claims[0].evidence].text, claims[0].text, self._parse,
                                              question_doc)))
            if not candidates and not typed_ok:
                yield finish(ABSTAIN_TEXT, True, draft=draft,
                             notes=notes + [f"no {'/'.join(sorted(labels))} in the best passages"])
                return
            # the word after "many" too: "how many square kilometers" is counted in "square kilometres"
            counted = {noun, counted_noun(question)} - {None}
            if counted and not any(stem(n) in content_stems(e.text) for e in top for n in counted):
                # "how many civilians" when no passage counts civilians: a number here would be invented
                yield finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + [f"no passage counts {' or '.join(sorted(counted))!r}"])
                return
            if not typed_ok:
                i, a, b, _ = _rank_candidates(answers, top, question, draft, labels, noun)
                if claims:
                    notes.append(f"answer {claims[0].text!r} is not a {'/'.join(sorted(labels))} that answers "
                                 f"the question; took {top[i].text[a:b]!r} instead")
                claims = [Claim(_as_written(top[i].text, a, top[i].text[a:b]), i, "span")]
        if claims and all(c.kind != "span" for c in claims) and \
                not any(_close_to_question(evidence[c.evidence]) for c in claims):
            # a whole sentence copied from a passage that shares too little with the question answers nothing
            notes.append("the model's sentences come from passages too far from the question")
            claims = []
        if not claims:
            if not _close_to_question(top[0]):
                # nothing the model said holds, and the best sentence shares too little with the question
                # ("the capital of France" → a rugby report that mentions France): say so, do not quote it
                yield finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + [
                    f"the model's answer was unsupported and the best passage covers {top[0].coverage:.0%} of the question"])
                return
            claims = [Claim(top[0].text, 0, "quote")]
            notes.append("the model's answer was unsupported; quoting the best passage instead")
        spans = []
        # a score the ranker cannot see: the typed answer took it from the third sentence ("… to give the hosts a
        # much-needed 18-10 victory", behind two sentences on Paterson's penalties), and the best two write none
        unseen_score = bool(labels) and asks_score(question) and len(claims) == 1 and claims[0].kind == "span" \
            and claims[0].evidence >= 2 and _in_a_score(evidence[claims[0].evidence].text, claims[0].text) \
            and not any(has_score(e.text) for e in evidence[:2])
        if s.span_ranker and not unseen_score:
            # verification said the passages answer; the ranker picks the words that do (rag.spans)
            t_rank = time.perf_counter()
            spans = self._choose_span(question, evidence, labels, draft, messages, foreign=foreign, holders=holders,
                                      linked=linked_holders)
            timings["generate"] += time.perf_counter() - t_rank  # the LLM's scoring is generation work too
            ranker = self.span_ranker()
            floor = s.min_span_confidence if s.min_span_confidence is not None else ranker.floor
            # (not for a follow-up: "Who brokered it?" holds few words of the sentence that answers it, the
            # floor was fitted on questions that stand alone, and the earlier turn already passed the gates)
            # (nor when the scorer failed: the floor was fitted on its likelihoods, and without them the span is
            # ranked by the evidence (and at most the first tokens' log-probabilities), which the gates above
            # have already passed)
            # (nor for a name the parse says is the answer: the holder of the asked role, the speaker of the quote)
            parsed = bool(spans) and spans[0].evidence == 0 and any(spans[0].start < b and a < spans[0].end
                                                                   for a, b in holders)
            if (spans and floor is not None and not history and not parsed and "lp_sum" in spans[0].features
                    and ranker.confidence(spans[0]) < floor):
                # the passages hold the question's words, but no span of them looks like its answer: a detail
                # the story does not give ("How much was McCartney paid?" of a report that never says)
                answer = finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + [
                    f"the best answer span, {spans[0].text!r}, has confidence {ranker.confidence(spans[0]):.2f}, "
                    f"under the ranker's floor {floor:.2f}: the passages likely do not say"])
                answer.spans = spans
                yield answer
                return
            if spans:
                best = spans[0]
                if [c.text for c in claims] != [best.text]:
                    notes.append(f"answer span chosen by the ranker: {best.text!r} (was {' '.join(c.text for c in claims)!r})")
                text, at = best.text, best.start
                listed = coordination(best.doc, best.start, best.end) if asks_for_several(self._parse(question)) else None
                if listed and (listed[0] < best.start or listed[1] > best.end):
                    # "Who were two of Kublai's advisers?": all of "Liu Bingzhong and Yao Shu", not the first
                    at = min(best.start, listed[0])
                    text = evidence[best.evidence].text[at:max(best.end, listed[1])]
                    notes.append(f"the question asks for more than one: {best.text!r} widened to its list {text!r}")
                claims = [Claim(_as_written(evidence[best.evidence].text, at, text), best.evidence, "span")]
        # the model's own span too ("13" of "one in 13 pupils"), when nothing above rewrote it
        claims = [Claim(_as_written(evidence[c.evidence].text, evidence[c.evidence].text.find(c.text), c.text),
                        c.evidence, c.kind) if c.kind == "span" and c.text and c.text in evidence[c.evidence].text
                  else c for c in claims]
        person = asks_who_someone_is(question)
        if (person and verify and not spans and s.span_ranker and s.span_llm_candidates
                and getattr(self.generator, "score", None) is not None):
            # no phrase of the best sentences is tied to the name ("Who is Martin Luther?" of "He published a short
            # commentary …"): the model's words or a sentence that only mentions the person would be a guess
            yield finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + [
                f"no phrase of the best passages says who {person} is"])
            return
        described = bool(spans) and (_describes(spans[0].doc, spans[0].start, spans[0].end, person or "")
                                     or _within(spans[0].evidence, spans[0].start, spans[0].end, linked_holders,
                                                ending=True))
        if person and claims and not described and all(c.kind == "span" and _only_names(c.text, person)
                                                       for c in claims):
            # the model's "Steve Witkoff" for "Who is Witkoff?", no phrase of the passages saying what he is
            yield finish(ABSTAIN_TEXT, True, draft=draft, notes=notes + [
                f"a name, {' '.join(c.text for c in claims)!r}, does not say who {person} is"])
            return
        answer = finish("", False, claims, draft, notes)
        answer.spans = spans
        yield answer


def _in_a_score(sentence: str, text: str) -> bool:
    """True when ``text`` is written in ``sentence`` as (part of) a score: "18-10" of "an 18-10 victory"."""
    at = sentence.find(text)
    return at >= 0 and in_score(sentence, at, at + len(text))


def _with_currency(sentence: str, start: int, text: str) -> str:
    """A number keeps the currency sign written before it: "$250,000", not "250,000", for a fine."""
    if text[:1].isdigit() and 0 < start <= len(sentence) and sentence[start - 1] in CURRENCY_SIGNS \
            and sentence.startswith(text, start):
        return sentence[start - 1] + text
    return text


_RATIO_BEFORE = re.compile(r"\b(\d{1,3}|[a-z]+)\s+(?:in|out\s+of)\s+$", re.I)


def _small_number(word: str) -> int | None:
    """The value of a count written in digits or in words ("13", "1,000", "five"); None for any other word."""
    from text_to_num import text2num

    word = word.replace(",", "")
    if word.isdigit():
        return int(word)
    try:
        return text2num(word.lower(), "en")
    except ValueError:
        return None


def _as_written(sentence: str, start: int, text: str) -> str:
    """A number chosen as the answer, as the sentence states it: with the other end of the range it begins or
    ends ("100–150", ``rag.spans.whole_range``), with the currency sign before it (``_with_currency``), and
    with the count it is the denominator of: "one in 13", not "13", for "Serial truants make up one in 13
    pupils" (only a smaller count before it makes a share: not "40 in 13 days", nor "won 2 in 2010")."""
    if sentence.startswith(text, start):  # both ends of a range: "100–150", "30 to 50 thousand"
        a, b = whole_range(sentence, start, start + len(text))
        start, text = a, sentence[a:b]
    text = _with_currency(sentence, start, text)
    if not sentence.startswith(text, start):
        return text
    whole = _small_number(text)
    before = sentence[max(0, start - 24):start]
    m = _RATIO_BEFORE.search(before)
    part = _small_number(m.group(1)) if m else None
    if whole is not None and part is not None and 0 < part < whole and not re.fullmatch(r"1\d{3}|20\d{2}", text):
        return before[m.start():] + text
    return text


def _articles_not_naming(evidence: list[Evidence], hits: Sequence[Hit], store, question: str,
                         names: set[str], strict: bool = False) -> set[str]:
    """The retrieved articles that miss a name or number of the question, when one of them names them all:
    what they say cannot answer it. Their sentences stay in the evidence list; no span or claim is taken
    from them.

    When none names them all, none is set apart: a question may name what its article does not (a year the
    writer added, "the Nobel Prize" for an article that says "Nobel"), and the check across all that was
    retrieved (``names_missing`` in the gate) is all there is. (A first version abstained then, and cost
    0.007 F1 on all 1,190 XQuAD questions.) ``strict``: for a question whose answer is a number, which an
    article about something else has plenty of, those that miss a name are set apart whatever the others
    name, and a name of everyday words must be there whole ("office" is no Home Office)."""
    texts: dict[str, list[str]] = {}
    for h in hits:  # without a store (a test's), an article is what was retrieved of it
        texts.setdefault(h.chunk.doc_id, [h.chunk.title]).append(h.chunk.text)

    def lacks(doc_id: str, numbers: bool = True) -> bool:
        whole = getattr(store, "document_text", lambda _: "")(doc_id) or "\n".join(texts.get(doc_id, ()))
        if numbers:
            return bool(names_missing(names, whole) or numbers_missing(question, whole))
        # (strict: "office" somewhere is no Home Office)
        return bool(names_missing(names, whole) or everyday_names_missing(names, whole))

    docs = list(dict.fromkeys(e.doc_id for e in evidence))
    if not docs:
        return set()
    lacking = {d for d in docs if lacks(d)}
    # when the best article lacks one, the others are set apart only if one of them names them all (the caller
    # then puts its sentences first): "Who is Estonia's foreign minister?" is answered from the report that
    # names the Estonian foreign minister, not from a summit list of foreign ministers
    out = lacking if len(lacking) < len(docs) else set()
    if strict:
        # (a year the question adds is no name: "How many interceptions … in 2015?" of an article that never says
        # 2015; a name of everyday words is looked for whole)
        out |= {d for d in docs if lacks(d, numbers=False)}
    return out


def _only_names(text: str, person: str) -> bool:
    """True when ``text`` is names and nothing that says who ``person`` is: "Steve Witkoff" or "Jared Kushner"
    for "Who is Witkoff?"; not "Trump’s son-in-law", nor the person's name with a title before it ("Estonian
    Foreign Minister Margus Tsahkna", "President Zelenskyy")."""
    ws = [w for w in words(text) if w.lower() not in ("'s", "’s", "s")]
    if not ws or not all(w[0].isupper() or not w[0].isalpha() for w in ws) or {w.lower() for w in ws} & TITLES:
        return False  # "Prime Minister" says what Tony Blair is
    own = plain_words(person)
    extra = {w.lower() for w in ws} - own
    return not (own & plain_words(text) and (len(extra) >= 2 or extra & TITLES))


def _describes(doc, start: int, end: int, person: str) -> bool:
    """True when the span ``start:end`` of ``doc`` is a phrase the sentence ties to ``person`` (a name) in its
    parse: a title or a description before the name ("national security chief Rustem Umerov", "Trump’s
    son-in-law Jared Kushner"), in apposition to it ("The head of Ukraine’s delegation, … Rustem Umerov"; "Umerov,
    the head of …"), said of it by a copula, also in a relative clause ("John Elway, who … is currently Denver's
    Executive Vice President"), or "as" it ("… named Elway as general manager")."""
    if doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return False
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return False
    names = _name_tokens(doc, person)
    if not names:
        return False
    r = span.root
    inside = {t.i for t in span}
    if any(c.dep_ == "prep" and c.lower_ == "of" and c.i not in inside for c in r.children):
        return False  # "head" of "the head of Ukraine’s delegation" says too little
    if _names_another(span, names):
        return False
    if names & inside:  # the name with words that say what it is (a title: "Russian President Vladimir Putin"),
        # ending with it (not "Presidents George W Bush, Bill Clinton, …"), the words tied to it (not "a grandson
        # of Genghis Khan")
        last = next((t for t in reversed(span) if not t.is_punct), None)
        return last is not None and last.i in names and any(
            (t.pos_ == "NOUN" or t.lower_ in TITLES) and t.i not in names for t in span) and any(
            t.i not in names and (t.head.i in names and t.dep_ in ("compound", "amod", "nmod")
                                  or t.i in inside and doc[i].dep_ == "appos" and doc[i].head == t)
            for t in span for i in names)
    if r.head.i in names and r.dep_ in ("compound", "nmod", "amod") or r.dep_ == "appos" and r.head.i in names \
            and (r.left_edge.i <= r.head.i + 2 or any(t.pos_ in ("VERB", "AUX") for t in doc)):
        return True  # (in a list without a verb, only an apposition right after the name)
    if any(doc[i].dep_ == "appos" and doc[i].head.i in inside for i in names):
        return True
    verb = r.head
    if r.dep_ in ("attr", "acomp") or r.dep_ == "conj" and r.head.dep_ == "attr":
        verb = r.head if r.dep_ != "conj" else r.head.head
        while verb.dep_ == "conj" and verb.head != verb:
            verb = verb.head
        return any(c.dep_ in ("nsubj", "nsubjpass") and c.i in names for c in verb.children) \
            or verb.dep_ == "relcl" and verb.head.i in names
    if r.dep_ == "pobj" and r.head.lower_ == "as":
        return r.head.head.i in names or any(c.i in names for c in r.head.head.children)
    return False


def _name_tokens(doc, person: str) -> set[int]:
    """The indices of the tokens of ``doc`` that write the name ``person``, all of its words together ("Steve
    Witkoff" for "Witkoff" or "Steve Witkoff"): not "Khan" of "Batu Khan" for "Genghis Khan"."""
    own = plain_words(person)
    out: set[int] = set()
    for root in doc:
        if root.pos_ != "PROPN" or root.lower_ not in own or (root.head.lower_ in own and root.head != root):
            continue
        name = [root]  # the run of proper nouns ending with it ("Steve Witkoff", "George W Bush")
        while name[0].i > 0 and doc[name[0].i - 1].pos_ == "PROPN" and doc[name[0].i - 1].head in name:
            name.insert(0, doc[name[0].i - 1])
        name = [t for t in name if t.lower_ in own or t.i >= min(x.i for x in name if x.lower_ in own)]
        if {t.lower_ for t in name} >= own:
            out |= {t.i for t in name if t.lower_ in own}
    return out


# a word before a name that says nothing of what the person is
_HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "st", "rev", "mr.", "mrs.", "ms.",
               "dr.", "prof", "professor"}


def descriptions(doc, person: str) -> list[tuple[int, int]]:
    """The character spans of ``doc`` that say what ``person`` (a name) is, as ``_describes`` reads them: the
    title or description before the name ("Prime Minister" of "Prime Minister Tony Blair", "Trump’s son-in-law"),
    a phrase in apposition ("the Liverpool boss" of "Rafael Benitez, the Liverpool boss"), or what a relative
    clause or a copula says it is. Not an honorific alone ("Mr", "Sir"), nor a span naming someone else."""
    if doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return []
    named = _name_tokens(doc, person)
    out = []
    for root in doc:
        if root.i not in named or root.head.i in named and root.head != root:
            continue  # the name's last word, which the others hang on
        first = root.i
        while first > 0 and first - 1 in named:
            first -= 1
        phrases = []  # (the words before the name end there; the others are cut to their core, ``_core_end``)
        before = [t for t in root.children if t.dep_ in ("compound", "amod", "nmod", "poss") and t.i < first]
        if before:
            start = min(x.i for t in before for x in t.subtree)
            phrases.append(doc[start:first + 1])  # with the name's first word, dropped below
        # (an apposition right after the name and a comma: in a list, "Tim Dams, Screen International: Film - The
        # Aviator; director - Clint Eastwood", the parser's "director" is no word about him)
        verb = any(t.pos_ in ("VERB", "AUX") for t in doc)
        phrases += [doc[min(x.i for x in c.subtree):max(x.i for x in c.subtree) + 1]
                    for c in root.children if c.dep_ == "appos" and (verb or c.left_edge.i <= root.i + 2)]
        if root.dep_ == "appos" and root.head.i < first:
            h = root.head
            phrases.append(doc[min(x.i for x in h.subtree):first])
        for c in root.children:  # "…, who is currently Denver's Executive Vice President"
            verb = c if c.dep_ == "relcl" else None
            for v in ([verb] + [x for x in verb.children if x.dep_ == "conj"]) if verb is not None else []:
                phrases += [doc[min(x.i for x in a.subtree):max(x.i for x in a.subtree) + 1]
                            for a in v.children if a.dep_ == "attr"]
        if root.dep_ in ("nsubj", "nsubjpass"):  # "Rice is the US Secretary of State"
            phrases += [doc[min(x.i for x in a.subtree):max(x.i for x in a.subtree) + 1]
                        for a in root.head.children if a.dep_ == "attr"]
        for ph in phrases:
            if len(ph) and ph.end - 1 == first:
                ph = ph[:-1]  # the title before the name
            elif len(ph):  # what it is, and of what; not where or when ("the son of a Church of Scotland Minister")
                ph = doc[ph.start:min(_core_end(ph.root), ph.end - 1) + 1]
            while len(ph) and (ph[-1].is_punct or ph[-1].dep_ == "cc"):
                ph = ph[:-1]
            while len(ph) and (ph[0].is_punct or ph[0].dep_ == "det"):
                ph = ph[1:]
            if not len(ph) or all(t.lower_ in _HONORIFICS or t.is_punct for t in ph):
                continue
            if not any(t.pos_ == "NOUN" or t.lower_ in TITLES or t.lower_ in ROLE_ACRONYMS for t in ph) \
                    or ph.root.pos_ == "PROPN" and ph.root.ent_type_ == "PERSON" or _names_another(ph, named):
                continue  # a name ("Screen International", "Clint Eastwood"), not what the person is
            out.append((ph.start_char, ph.end_char))
    return sorted(set(out))


# what a phrase is of, not where, when, which or whose else: the parts of its core
_NOT_CORE = {"conj", "cc", "relcl", "acl", "appos", "punct", "advcl", "prep", "npadvmod", "parataxis", "dep"}


def _core_end(tok) -> int:
    """The index of the last token of ``tok``'s core: itself, its modifiers and what it is "of", recursively,
    without relative clauses, appositions, other prepositions or what is joined to it ("chief executive of BT
    Wholesale", not "… which provides phone lines that other firms re-sell")."""
    end = tok.i
    for c in tok.rights:
        if c.dep_ not in _NOT_CORE or c.dep_ == "prep" and c.lower_ == "of":
            end = max(end, _core_end(c))
    doc = tok.doc
    while end + 1 < len(doc) and not doc[end].whitespace_ and doc[end + 1].text in ("-", "‐") \
            and end + 2 < len(doc) and not doc[end + 1].whitespace_:
        end += 2  # a word joined by hyphens is one word: "son-in-law"
    return end


def _names_another(ph, named: set[int]) -> bool:
    """True when the phrase ``ph`` names a person other than the one asked about, except as whose the thing is
    ("Trump’s son-in-law", "Blackground Records' lawyer"): "director - Clint Eastwood" says who directed."""
    for t in ph:
        if t.ent_type_ != "PERSON" or t.i in named or t.pos_ != "PROPN":
            continue
        w = t
        while w.dep_ in ("compound", "flat") and w.head != w:
            w = w.head
        if w.dep_ != "poss":
            return True
    return False


def _names_someone_else(c, person: str) -> bool:
    """True when span candidate ``c`` lies inside an entity, or its head word is part of one and the span
    does not name ``person``: "the Kremlin", "Russian President Vladimir Putin" for "Who is Jared Kushner?"."""
    doc = c.doc
    ents = getattr(doc, "ents", ())
    if any(e.start_char <= c.start and c.end <= e.end_char for e in ents):
        return True
    if not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return False
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    if span is None or not span.root.ent_type_:
        return False
    return not set(plain_words(person)) & plain_words(c.text)


class _NoEntities:
    def __init__(self, text):
        self.text = text
        self.ents = ()


def _states_something(doc) -> bool:
    """True when the parsed sentence has a verb; without a parser (no tokens) it is given the benefit."""
    tokens = list(doc) if hasattr(doc, "__iter__") else []
    return not tokens or any(t.pos_ in ("VERB", "AUX") for t in tokens)


def _too_short(doc) -> bool:
    """A line of one or two words ("France's", "Reuters"): no paraphrase of a question, even when the parser
    reads a verb into it ("'s" as "is"); without a parser (no tokens) it is given the benefit."""
    tokens = list(doc) if hasattr(doc, "__iter__") else []
    return bool(tokens) and sum(t.is_alpha for t in tokens) < 3


def _overlaps(sentence: str, a: int, b: int, claim_text: str) -> bool:
    at = sentence.find(claim_text)
    return at >= 0 and at < b and a < at + len(claim_text)


def _fits_question(e: Evidence, start: int, end: int, text: str, label: str | None, question: str,
                   labels: Sequence[str], best: Evidence) -> bool:
    """The checks a typed answer span passes, whoever proposed it (the NER's entities, the span ranker's
    candidates): a measure where one is asked, not the question's own number, the asked currency and
    dimension, not borrowed from the sentence before the best one, not the person the question names."""
    numeric = bool(set(labels) & NUMERIC_TYPES)
    return (measures(text, question, e.text[end:]) and not (numeric and _restates_number(text, question))
            and in_asked_currency(e.text, start, end, question) and in_asked_dimension(e.text, start, end, question)
            and not _borrows_closeness(e, best)
            and not ("PERSON" in labels and label in NAME_TYPES | {None} and _is_asked_name(text, question))
            and counts_as_asked(text, question, e.text[end:]))


def _borrows_closeness(e: Evidence, best: Evidence) -> bool:
    """True when ``e`` comes just before the best sentence, which holds the question's words itself, and is
    close to the question only through it: "Kremlin spokesman Dmitry Peskov on Thursday said…", before "A year
    since he returned to the White House…", does not say when Trump returned. A sentence after the best one
    may go on about what it names ("At least 300 were killed"), one that shares a word with the question or
    says much the same may answer too."""
    return (e is not best and e.doc_id == best.doc_id and e.start < best.start and e.own_coverage == 0.0
            and e.cosine < CLOSE_COSINE and (best.own_coverage or 0.0) >= TYPED_COVERAGE)


def _is_asked_name(text: str, question: str) -> bool:
    """True when ``text`` is the name of someone the question names: "Vladimir Putin" (or "Russia’s Vladimir
    Putin") does not answer "Who hosted Putin in Alaska?", it is who was hosted. The same surname is not the
    same person when the question gives another first name: "Michelle Obama" may answer "Who is married to
    Barack Obama?". Nor is a firm's name a person's, though its founder may share it: "James O. McKinsey"
    answers "Who founded McKinsey & Company?"."""
    span = [bare_word(w).lower() for w in words(text) if w[:1].isupper()]
    if not span or _EPONYM.search(question):
        return False
    for run in name_runs(question):
        asked = [bare_word(w).lower() for w in run.split()]
        if asked and span[-1] == asked[-1] and (len(asked) == 1 or set(span) <= set(asked)) \
                and not _FIRM_AFTER.match(question, _name_end(question, run)):
            return True
    return False


_ASKS_A_NAME = re.compile(r"\b(?:names?|called|known\s+as|nicknamed?)\b", re.I)


def _all_names(text: str) -> bool:
    """True when every word of ``text`` is capitalised (a possessive's "s" aside): "Jared Kushner", "Russia’s
    Vladimir Putin"; not "Trump’s son-in-law Jared Kushner"."""
    ws = [w for w in words(text) if w.lower() not in ("'s", "’s", "s")]
    return bool(ws) and all(w[:1].isupper() for w in ws)


# a firm is often named after its founder: "Henry Ford" answers "Who founded Ford?"
_EPONYM = re.compile(r"\b(?:(?:co-?)?found(?:ed|s|ing|er|ers)?|establish(?:ed|es)?|named\s+(?:after|for))\b", re.I)
# a name followed by "&" is the start of a firm's name ("McKinsey & Company"), not a person's
_FIRM_AFTER = re.compile(r"\s*&")


def _name_end(question: str, run: str) -> int:
    """Where the name run ``run`` (lower case, from ``name_runs``) ends in ``question``; the end if not found."""
    m = re.search(r"\s+".join(re.escape(w) for w in run.split()) + r"\b", question, re.I)
    return m.end() if m else len(question)


def _close_to_question(e: Evidence) -> bool:
    """Evidence near enough to the question to answer it: most of its words (its chunk may give the names), or a
    close paraphrase."""
    cov = e.coverage if e.named_coverage is None else e.named_coverage
    return cov >= TYPED_COVERAGE or e.cosine >= CLOSE_COSINE


_YES_NO = re.compile(r"(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should|shall|may|might)\b",
                     re.I)
_WH_WORD = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.I)


def _weak_note(best: Evidence, missing_names, fragment: bool) -> str:
    return (f"weak evidence: cosine {best.cosine:.2f}, coverage {best.coverage:.2f}, names not found {missing_names}"
            + (", the best sentence is a fragment (no verb, or under three words)" if fragment else ""))


def is_yes_no(question: str) -> bool:
    """A question that opens with its verb and asks no wh-word: "Did Tsahkna meet Zelenskyy?", "Is the loan
    repaid?". Not "Did Zelenskyy say what Russia must be ready for?" nor "Is the focus high or low?", whose
    answers are spans."""
    q = _LEAD_IN.sub("", question.strip(), count=1)  # "In 1972, did Norway join the EU?"
    return bool(_YES_NO.match(q)) and not _WH_WORD.search(question) and not re.search(r"\bor\b", question)


# a phrase set off by a comma before the question's verb: "In 1972, ", "According to the BBC, "
_LEAD_IN = re.compile(r"^[^,?]{1,60},\s*(?=" + _YES_NO.pattern + ")", re.I)


_WHO = re.compile(r"^\W*(?:who|whom)\b|\bwho\s+(?:is|was|were|are|did|said|led|won)\b", re.I)
_PLACE_PREPS = {"in", "at", "near", "into", "inside", "across", "throughout", "around", "outside", "within"}


def _place_for_person(doc, start: int, end: int, label: str | None, question: str) -> bool:
    """True for a place named as where something happened, offered to a "who" question: "in Abu Dhabi" of
    "The head of Ukraine’s delegation, Rustem Umerov, called the talks in Abu Dhabi meaningful" does not say
    who heads it. A place that acts still answers ("France beat Italy" for "Who won?")."""
    if label not in ("GPE", "LOC", "FAC") or not _WHO.search(question) or doc is None \
            or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return False
    span = doc.char_span(start, end, alignment_mode="expand")
    return span is not None and len(span) > 0 and span.root.dep_ == "pobj" and span.root.head.lower_ in _PLACE_PREPS


_ASKS_CIRCUMSTANCE = re.compile(r"^\W*(?:where|when|why)\b", re.I)


def _subject_of_asked(sentence: str, claim: str, parse, question_doc) -> bool:
    """``_does_what_is_asked`` for a claim found in ``sentence`` as written (``parse`` parses it)."""
    i = sentence.find(claim)
    return i >= 0 and _does_what_is_asked(parse(sentence), i, i + len(claim), question_doc)


def _does_what_is_asked(doc, start: int, end: int, question_doc) -> bool:
    """True when the span is the subject of the verb a "where", "when" or "why" question asks about: "The 10-day
    Dutch festival" of "The 10-day Dutch festival begins on Wednesday" is what begins, not where the Delta begins
    (nor when, nor why)."""
    text = getattr(question_doc, "text", "")
    if doc is None or not _ASKS_CIRCUMSTANCE.match(text) \
            or not getattr(doc, "has_annotation", lambda _: False)("DEP") \
            or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return False

    def forms(t) -> set[str]:  # "began" is "begin" ("lemma_" is empty: the parser has no lemmatizer)
        return {stem(t.lower_), lemma_stem(t.lower_)}

    verbs = set().union(*(forms(t) for t in question_doc if t.pos_ == "VERB"))
    span = doc.char_span(start, end, alignment_mode="expand")
    return span is not None and len(span) > 0 and span.root.dep_ in _SUBJECTS \
        and span.root.head.pos_ == "VERB" and bool(forms(span.root.head) & verbs)


# "Who is the Liverpool boss?", "Who was the chair of the IPCC?": the role a person is asked for by
# (a relative clause after the role says which holder, it is no part of the role: "Who is the Costa Rican President
# that went to Harvard?")
_WHO_ROLE = re.compile(r"^\W*(?:who\s*(?:is|was|are|were|['’]s)|(?P<what>what\s*(?:is|was|['’]s)\s+the\s+(?:full\s+)?name\s+of))"
                       r"\s+(?:the\s+|an?\s+)?(?P<role>[^?!.]+?)"
                       r"(?:\s*,?\s+(?:who|that)\s+[^?!.]+)?\s*[?!.]*\s*$", re.I)
# how a name and a role name the same person: "Liverpool boss Rafael Benitez", "Rafael Benitez, the Liverpool
# boss", "Benitez is the Liverpool boss", "Benitez, who became Liverpool boss", "Benitez as Liverpool boss"
_SUBJECTS = {"nsubj", "nsubjpass"}
_PREDICATES = {"attr", "oprd", "acomp", "appos"}


def asked_role(question_doc) -> list | None:
    """The tokens of the role a "Who is the <role>?" question asks the holder of ("Liverpool boss", "chair of
    the IPCC", "Estonia's foreign minister"), ending in a noun; None for any other question and for a name
    ("Who is Steve Witkoff?" asks what he is)."""
    text = getattr(question_doc, "text", "")
    m = _WHO_ROLE.match(text)
    if not m or asks_who_someone_is(text) or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return None
    role = [t for t in question_doc if m.start("role") <= t.idx < m.end("role")]
    if not role or len(role) > 6 or not any(t.pos_ in ("NOUN", "PROPN") for t in role) \
            or any(t.pos_ in ("VERB", "AUX", "ADP") and t.lower_ != "of" and not _title_preposition(t) for t in role):
        return None  # "Who is named after…", "Who was the report written for?": not a role
    if m.group("what") and not asks_name_of_person(text):
        return None  # "What is the name of the Norman castle?" asks for no person
    return role


def _writes_role(text: str, forms: list[list[str]], role=()) -> bool:
    """True when ``text`` has every word of one of the role's ``forms`` (``role_forms``), as whole words; or the
    words of the asked ``role`` (its tokens) that are no name, and a word of each name in it: "Bayern goalkeeper"
    writes "Bayern Munich goalkeeper", "Belgium's prime minister" or "The Libertine's executive producer" "the
    Belgian prime minister" or "executive producer of The Libertine" — "the prime minister" neither."""
    have = set(re.findall(r"\w+", text.lower()))
    if any(all(w in have for w in re.findall(r"\w+", " ".join(f))) for f in forms):
        return True
    runs: list[list[str]] = []
    plain: list[str] = []
    for t in role:
        if _named(t):
            if runs and role[role.index(t) - 1].i == t.i - 1 and _named(role[role.index(t) - 1]):
                runs[-1].append(t.lower_)
            else:
                runs.append([t.lower_])
        elif t.lower_ not in STOPWORDS and not t.is_punct:
            plain.append(t.lower_)
    return bool(runs) and bool(plain) and all(w in have for w in plain) and all(set(r) & have for r in runs)


def _bare_title(role) -> list[str] | None:
    """The words of the asked ``role`` after the names that open it ("chief", "executive" of "Fox chief
    executive"), when it opens with names and goes on with a title; None otherwise."""
    n = 0
    while n < len(role) and _named(role[n]) and role[n].lower_ not in TITLES:
        n += 1
    rest = [t.lower_ for t in role[n:]]
    if not n or not rest or any(w in ("of", "'s", "’s") for w in rest) or not set(rest) & (TITLES | {"executive"}) \
            or country_forms(" ".join(t.text for t in role[:n])):
        return None  # (a country's office is written with its name: "the president" of a report on Russia may
        # be another country's)
    return rest


def _bare_holders(doc, bare: list[str]) -> list[tuple[int, int]]:
    """The holders ``doc`` gives the title ``bare`` when it writes it with no name before it ("Chief executive Gail
    Berman said …", not "NBC chief executive Jeff Zucker")."""
    occurrences = _occurrences(doc, bare)
    if not occurrences or any(o.start > 0 and (_named(doc[o.start - 1]) or doc[o.start - 1].lower_ in ("'s", "’s"))
                              for o in occurrences):
        return []
    return holders_of(doc, [bare])


def _headline(store, e: Evidence) -> str:
    """The headline of the article ``e`` comes from."""
    pos = store.position(e.chunk_id) if store is not None else None
    return e.title if pos is None else store.chunks[pos].title


def _role_words(role) -> list[str]:
    """The words of the asked ``role`` that name no one and nothing: "prime", "minister" of "the Belgian prime
    minister"."""
    return [t.lower_ for t in role if not _named(t) and t.lower_ not in STOPWORDS and not t.is_punct]


def _title_preposition(t) -> bool:
    """True for the "to" or "for" of a title: "Chief Secretary to the Treasury", "Minister for Europe"."""
    return t.lower_ in ("to", "for") and t.i > 0 and t.doc[t.i - 1].lower_ in TITLES | {"minister", "secretary"}


def role_forms(role) -> list[list[str]]:
    """The ways the news writes the role ``role`` (the question's tokens, as ``asked_role`` gives them), each as
    lower-cased tokens: as asked, and for the title of a country ("president of France", "prime minister of
    the UK") also with the country before it, by any of its names or its people's ("French president",
    "France's president", "UK prime minister")."""
    words_ = [t.lower_ for t in role]
    forms = [words_]
    if "of" not in words_ or words_.index("of") == 0:
        # a title its country's name or people's comes before: "India's finance minister", "Ukrainian foreign
        # minister", also written "Indian finance minister", "finance minister of India"
        for n in (2, 1):
            if len(role) <= n or not all(_named(t) for t in role[:n]):
                continue
            names = country_forms(" ".join(t.text for t in role[:n]))
            if not names:
                continue
            core = words_[n + 1:] if words_[n:n + 1] in (["'s"], ["’s"]) else words_[n:]
            if not core:
                break
            for f in sorted(names):
                country = f.lower().split()
                forms += [w for w in (country + core, country + ["'s"] + core, core + ["of"] + country)
                          if w != words_ and w not in forms]
            break
        return forms
    i = words_.index("of")
    rest = [t.text for t in role[i + 1:] if t.lower_ != "the"]
    names = country_forms(" ".join(rest)) if rest else frozenset()
    core = words_[:i]
    for f in sorted(names):
        words = f.lower().split()
        forms += [words + core, words + ["'s"] + core]
    return forms


def _role_of_another(doc, start: int, end: int, question_doc, paraphrase: bool = False) -> bool:
    """True when the sentence gives the asked role to someone other than the name at ``start:end``: "And the
    Liverpool boss is looking forward to having skipper Steven Gerrard back" does not say Gerrard is the boss,
    and "US Secretary of State Condoleezza Rice" is not the Culture Secretary (the title's own word before
    "Secretary" is another), nor is "US" itself; "shadow culture secretary John Whittingdale" holds another office
    ("former", "deputy" … too); and a sentence without the role's noun in any form says nothing of who holds it
    ("President Viktor Yushchenko" for the Ukrainian foreign minister), unless it is a ``paraphrase`` of the
    question. A name the sentence does not tie to any role otherwise is left to the ranker."""
    role = asked_role(question_doc)
    if not role or doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return False
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return False
    name = span.root
    words_ = [t.lower_ for t in role]
    held = [r for form in role_forms(role) for r in _occurrences(doc, form)]
    if held:
        if any(span.start < r.end and r.start < span.end for r in held):
            return True  # "Arsenal" of "Arsenal manager Arsene Wenger" is the role's own word
        return _left_office(name) or not any(_names_holder(name, span, r) for r in held
                                             if not _another_office(doc, r.start))
    # the role's words are not in the sentence, nor its noun in any form ("chaired" for chair): the sentence
    # does not say who holds it ("President Viktor Yushchenko" for "Who is the Ukrainian foreign minister?")
    # (unless the sentence is a paraphrase of the question — "Iran was the world's second-largest oil exporter" —
    # and the role is no title, one that names whose it is: "Arsenal captain" is not paraphrased by a report of
    # Arsenal's strikers). The role's noun is its head: "Minister" of "Prime Minister of East Germany"; "two of
    # Kublai's advisers" has none
    noun = next((t for t in role if t.head not in role or t.head == t), role[-1])
    asked = {t.lower_ for t in role if t is not noun and _named(t)}
    said = [t for t in doc if stem(t.lower_) == stem(noun.lower_)]  # the noun in the sentence, in any form
    if (not paraphrase or asked) and noun.pos_ in ("NOUN", "PROPN") and not said:
        return True
    # the role's noun given to the name with other words than the question's: "Terry, the captain of Chelsea"
    # is not the Tottenham captain, "US Secretary of State Condoleezza Rice" not the Culture Secretary
    if asked and said and all(_qualifiers(t) and not _share_name(asked, _qualifiers(t)) for t in said):
        return True  # the sentence speaks of other offices only: nothing in it holds the asked one
    for t in said:
        if span.start <= t.i < span.end:
            continue
        if t in name.ancestors and name.dep_ in ("compound", "poss", "pobj", "nmod", "amod") \
                and not any(w.ent_type_ == "PERSON" for w in span):
            return True  # "Chelsea" of "the captain of Chelsea" says which office, it does not hold it (a person
            # may: "John C. Messenger's translation")
        if asked and _names_holder(name, span, doc[t.i:t.i + 1]):
            own = _qualifiers(t)
            if own and not _share_name(asked, own):
                return True
    # a title before the name with the role's own noun but another
    # word before it ("US Secretary", "UN Secretary" for "Culture Secretary") is another office; and a sentence
    # whose every such title is another office speaks of other offices ("UN", "World Bank" are no answer)
    # (of a role "<title> of <whose>", its title: "prime minister" of "prime minister of France" is not
    # "French Culture Minister")
    core = words_[:words_.index("of")] if "of" in words_ else words_
    if len(core) < 2:
        return False
    titles = [t for t in doc if t.lower_ == core[-1] and (t.is_title or t.is_upper)]
    if titles and all(t.i > 0 and (doc[t.i - 1].is_title or doc[t.i - 1].is_upper)
                      and doc[t.i - 1].lower_ != core[-2] for t in titles):
        return True
    title = []
    for t in reversed(doc[:span.start]):
        if t.is_punct or not (t.is_title or t.is_upper or t.lower_ == "of"):
            break
        title.insert(0, t)
    for i, t in enumerate(title):
        if t.lower_ == core[-1] and i > 0:
            return title[i - 1].lower_ != core[-2]
    return False


# a word before a role that makes it another office: "shadow culture secretary", "former Liverpool boss",
# "ex-health secretary", "deputy prime minister"
_OTHER_OFFICE = {"shadow", "former", "ex", "deputy", "vice", "assistant", "junior", "previous", "late", "then",
                 "future"}


# what the one a holder takes the role from held before: "to succeed Berti Vogts as Scotland manager"
_REPLACING = {stem(w) for w in ("succeed", "replace", "follow", "oust", "unseat", "depose")}
# what a holder who is the subject of it no longer holds: "Tottenham manager Jacques Santini has resigned"
_LEAVING = {stem(w) for w in ("resign", "quit", "sack", "fire", "leave", "retire", "step", "oust", "dismiss")}


def _named(w) -> bool:
    """A word of a name that can say which office: "Chelsea", "US", "State" — not "museum" ("the museum's first
    director" is the one the text is about, named before), nor a person's ("John C. Messenger's translation")."""
    return w.ent_type_ != "PERSON" and (w.pos_ == "PROPN" or w.ent_type_ in ("NORP", "GPE", "ORG", "LOC", "FAC")
                                        or w.is_upper and len(w) > 1 or w.is_title and not w.is_sent_start)


def _qualifiers(noun) -> set[str]:
    """The names that say which office the role noun ``noun`` (a token) is: "US", "State" of "US Secretary of
    State", "Chelsea" of "the captain of Chelsea"; lower-cased."""
    out = set()
    for c in noun.children:
        if c.dep_ in ("compound", "amod", "poss", "nmod"):
            out |= {w.lower_ for w in c.subtree if _named(w)}
        elif c.dep_ == "prep" and c.lower_ in ("of", "for", "at"):
            out |= {w.lower_ for w in c.subtree if w is not c and _named(w)}
    return out


def _share_name(a: set[str], b: set[str]) -> bool:
    """True when a word of ``a`` and one of ``b`` are one name, or one's form of the other ("Estonia",
    "Estonian"; "Ukraine", "Ukrainian": five letters in common at the start)."""
    return any(x == y or len(x) >= 5 and len(y) >= 5 and x[:5] == y[:5]
               or y in {f.lower() for f in country_forms(x)} for x in a for y in b)  # "France", "French"


def _left_office(name) -> bool:
    """True when the name (a token) is who resigned, quit, was sacked … in its sentence."""
    return name.dep_ in _SUBJECTS and stem(name.head.lower_) in _LEAVING


def _occurrences(doc, words_: list[str]) -> list:
    """The spans of ``doc`` that read ``words_`` (lower-cased tokens), in order."""
    n = len(words_)
    words_ = [w.replace("’", "'") for w in words_]  # "Trump’s special envoy" for "Trump's special envoy"
    lowered = [t.lower_.replace("’", "'") for t in doc]
    return [doc[i:i + n] for i in range(len(doc) - n + 1) if lowered[i:i + n] == words_]


def _another_office(doc, i: int) -> bool:
    """True when the word before token ``i`` (a hyphen aside: "Ex-health") makes the role there another office."""
    j = i - 1
    while j >= 0 and doc[j].text in ("-", "‐", "–"):
        j -= 1
    return j >= 0 and doc[j].lower_ in _OTHER_OFFICE


def role_holders(doc, role_words: list[str]) -> list[tuple[int, int]]:
    """The character spans of the people ``doc`` gives the role ``role_words`` (lower-cased tokens, as
    ``asked_role`` gives them): "Tory leader Michael Howard", "Rafael Benitez, the Liverpool boss", not the
    "shadow" or "former" holder of it, and not a name inside the role's own words ("Manchester United")."""
    if doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return []
    held = [r for r in _occurrences(doc, role_words) if not _another_office(doc, r.start)]
    if not held:
        return []
    # the people the NER found, and the names it missed: a run of capitalised proper nouns in no entity
    # ("national security chief Rustem Umerov"), or in one that swallowed the role ("Balco boss Victor Conte", an
    # organisation to the NER)
    names = [e for e in doc.ents if e.label_ == "PERSON"]
    in_role = {t.i for r in held for t in r}
    other = {t.i for e in doc.ents if e.label_ != "PERSON" and not any(t.i in in_role for t in e) for t in e}
    run: list = []
    for t in [*doc, None]:
        if t is not None and t.pos_ == "PROPN" and t.is_title and t.ent_type_ != "PERSON" \
                and t.i not in other and t.i not in in_role:
            run.append(t)
            continue
        if run:
            names.append(doc[run[0].i:run[-1].i + 1])
            run = []
    found = [(e.start_char, e.end_char) for e in names if not _left_office(e.root)
             and any(not (e.start < r.end and r.start < e.end) and _names_holder(e.root, e, r) for r in held)]
    # a full name the NER took for an organisation, which the role is in apposition with: "Palaniappan
    # Chidambaram, India's finance minister, argued …" (not "Chelsea" of "Chelsea captain John Terry")
    found += [(e.start_char, e.end_char) for e in doc.ents if e.label_ == "ORG" and len(e) >= 2
              and all(t.pos_ == "PROPN" and t.is_title for t in e) and not any(t.i in in_role for t in e)
              and not _left_office(e.root)
              and any(r.root.dep_ == "appos" and r.root.head.i in range(e.start, e.end)
                      or e.root.dep_ == "appos" and e.root.head.i in range(r.start, r.end) for r in held)]
    return sorted(set(found))


def holders_of(doc, forms: list[list[str]]) -> list[tuple[int, int]]:
    """``role_holders`` for a role written any of the ways ``forms`` (``role_forms``) gives."""
    return sorted({h for f in forms for h in role_holders(doc, f)})


def _within(i: int, start: int, end: int, spans: Sequence[tuple[int, int]], ending: bool = False) -> bool:
    """True when ``start:end`` of evidence ``i`` overlaps one of ``spans`` of evidence 0 (with ``ending``: lies
    inside one and ends where it ends, "special envoy" of "President Donald Trump’s special envoy")."""
    if i != 0:
        return False
    if ending:
        return any(a <= start and end == b for a, b in spans)
    return any(start < b and a < end for a, b in spans)


def _holding(candidates: list, holders: Sequence[tuple[int, int]], where) -> list:
    """The candidates that hold (part of) a name the best sentence gives the asked role ("Sir Alex Ferguson" for
    "Alex Ferguson"), ``where(c)`` being (evidence index, start, end); all of them when there is no such name or
    none is among them."""
    held = [c for c in candidates if where(c)[0] == 0
            and any(where(c)[1] < b and a < where(c)[2] for a, b in holders)]
    return held or candidates


def _names_holder(name, span, role) -> bool:
    """True when the name (the root token of ``span``) and the role's occurrence ``role`` are one person in
    the parse: one qualifies the other, a copula joins them, a relative clause of the name holds the role
    ("…, who became Liverpool boss"), or the name is taken "as" the role."""
    r = role.root
    if span.start <= r.i < span.end or r.head == name or name.head == r:
        return True
    if r.head == name.head and r.head != r and ({r.dep_, name.dep_} & _SUBJECTS) and ({r.dep_, name.dep_} & _PREDICATES):
        return True  # "Benitez is the Liverpool boss", "the boss is Benitez"
    verb = r.head  # "Benitez, who became Liverpool boss in 2004", "appointed Benitez as Liverpool boss"
    if verb.dep_ == "relcl" and verb.head == name:
        return True
    if r.dep_ == "pobj" and r.head.lower_ == "as" and r.head.head in (name, name.head):
        # ... but not "to succeed Berti Vogts as Scotland manager": the one replaced held it before
        return not (name.dep_ == "dobj" and stem(name.head.lower_) in _REPLACING)
    return False


def _restates_number(span: str, question: str) -> bool:
    """True when every number of ``span`` is one the question states: "20 projects" says nothing of what "the
    20-point plan" will cost."""
    nums = numbers_in(span)
    return bool(nums) and nums <= numbers_in(question)


def _repeats_question(span: str, question: str) -> bool:
    """True when every content word of ``span`` is already in the question: no answer. A number the
    question states is the question's too: "20" does not answer "How much will the 20-point plan cost?"."""
    span_words = {w for w in plain_words(span) if w not in STOPWORDS}
    return not span_words or span_words <= plain_words(question) | numbers_in(question)


# "how old", "how long", "how many": the answer is a measure, so it holds a number, in digits or in words
_MEASURE_QUESTION = re.compile(r"\bhow\s+(old|long|far|tall|big|large|high|deep|wide|heavy|many|much)\b"
                               r"|\b(?:what|which)\s+(?:is\s+|was\s+)?(?:the\s+)?(age)\b", re.I)
_QUANTITY = re.compile(
    r"\d|\b(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|"
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|(?:thir|four|fif|six|seven|"
    r"eigh|nine)teenth|twentieth|thirtieth|fortieth|fiftieth|hundredth|thousandth|decade|century|centurie|millenni(?:um|a)"
    r")s?|several|few|half|quarter|once|twice|thrice|a lot|lots|"
    # "a year", "an hour", "for decades": a unit of time or length is a measure without a number
    r"\ban?\s+(?:year|month|week|fortnight|day|hour|minute|decade|century|lifetime|mile|kilometre|kilometer|"
    r"metre|meter|foot|feet|yard|inch)|(?:year|month|week|day|hour|minute|mile|kilometre|kilometer|metre|meter|yard|inche)s)\b",
    re.I)
_BARE_YEAR = re.compile(r"(?:in\s+)?\d{4}")
# a count in words: "six weeks", "several years"
_COUNT_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
                r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|several|few|dozen")
# "12 months", "about three years", "the past two decades": a length of time with nothing that places it
# ("in 12 months", "two years ago", "three days later" do)
_BARE_DURATION = re.compile(
    r"(?:(?:about|around|some|nearly|almost|over|under|more than|less than|at least|up to|"
    r"the(?: last| past| next| first)?)\s+)?"
    r"(?:[\d,.]+|an?|many|a few|" + _COUNT_WORDS + r")[\s-]+(?:full\s+)?"
    r"(?:seconds?|minutes?|hours?|days?|weeks?|fortnights?|months?|years?|decades?|century|centuries)", re.I)
# (and "On what date …?": "five months" of "the first such exchange in five months" is no date)
_WHEN_QUESTION = re.compile(r"^\W*when\b|\bwhen\s+(?:is|was|were|are|did|does|do|will|would|had|has|have|can|could)\b"
                            r"|\b(?:what|which)\s+date\b", re.I)


def measures(span: str, question: str, after: str = "") -> bool:
    """False when the question asks for a measure and ``span`` is none: "late Wednesday" or "1945" (a point in
    time, not a length of it) for "How long has the conflict lasted?"; and the other way round, "12 months"
    (a length of time, not a point in it) for "When was the directive created?". True otherwise.

    A length or an age is no count of something else: "51 caps" (or "51" of "won 51 caps", ``after`` being the
    sentence's words after the span) answers neither "How old is Healey?" nor "How long was he out?"."""
    m = _MEASURE_QUESTION.search(question)
    if not m:
        return not (_WHEN_QUESTION.search(question) and _BARE_DURATION.fullmatch(span.strip()))
    if not _QUANTITY.search(span):
        return False
    asked = (m.group(1) or m.group(2)).lower()  # "what age" asks what "how old" does
    if asked not in ("long", "old", "age"):
        return True
    return not (_BARE_YEAR.fullmatch(span.strip()) or _counts_other_things(span, after)
                or re.fullmatch(r"once|twice|thrice", span.strip(), re.I))  # how often, not how long


# a number standing alone: not "19th", "1990s", "5km" or the "31" of "31-year-old" (its unit is written with it)
_STANDALONE_NUMBER = re.compile(r"(?<![\w-])(?:\d[\d,.]*\d|\d|(?:" + _COUNT_WORDS + r"))(?![\w-])", re.I)
_NUMBER_WORD = re.compile(r"\d[\d,.]*|(?:" + _COUNT_WORDS + r")$", re.I)
# what a length of time, a distance or an age is counted in
_LENGTH_UNIT = re.compile(r"(?:second|minute|hour|day|night|week|fortnight|month|year|decade|centur(?:y|ie)|millenni(?:um|a)|"
                          r"season|term|generation|lifetime|age|aged|old|long|ago|bp|metre|meter|m|km|kilomet(?:re|er)|"
                          r"mile|f(?:oo|ee)t|ft|inch(?:e)?|cm|mm|yard|light-year)s?$", re.I)


def _counts_other_things(span: str, after: str) -> bool:
    """True when the span's last number counts a thing that is no unit of time, length or age: "51 caps",
    "three goals"; not "six weeks", "31-year-old", "20 years old", "the 19th century" or "39, when he played"."""
    found = list(_STANDALONE_NUMBER.finditer(span))
    if not found:
        return False  # no number, or one written with its unit or as an ordinal ("5km", "19th", "1990s")
    m = re.match(r"\s+([A-Za-z][\w-]*)", span[found[-1].end():] + after)
    if m is None:
        return False
    word = m.group(1)
    return word.lower() not in STOPWORDS and not _NUMBER_WORD.match(word) and not _LENGTH_UNIT.match(word)


_FREQUENCY = re.compile(r"once|twice|thrice", re.I)
_ASKS_HOW_OFTEN = re.compile(r"\bhow\s+(?:many|often|frequently)\b", re.I)
# "How much money…", "How much did it cost / was it worth / did they pay …?": an amount of money is asked
_ASKS_MONEY = re.compile(r"\bhow\s+much\s+(?:money|cash|funding)\b|\bhow\s+much\s+(?:did|does|do|was|is|were|will|"
                         r"would|has|have|had)\b.*\b(?:cost|costs|pay|paid|worth|spend|spent|earn|earned|save|saved|"
                         r"raise|raised|price|fund|lend|lent|loan|invest|invested)\b", re.I)


def counts_as_asked(span: str, question: str, after: str = "") -> bool:
    """False for a count that answers another question than the one asked: "twice" (of "Healey, twice a
    Heineken Cup winner") says how often, and answers only "how many"/"how often", not "What was the final
    score?"; "104,000 jobs" counts jobs, not the money "How much money did the cuts save?" asks for (``after``:
    the sentence's words after the span, for "104,000" of "104,000 jobs"; "2 billion euros" is money)."""
    span = span.strip()
    if _FREQUENCY.fullmatch(span):
        return _ASKS_HOW_OFTEN.search(question) is not None
    if _ASKS_MONEY.search(question) and not _AMOUNT_CURRENCY.search(span) and not _CURRENCY_AFTER.match(after):
        return not _counts_other_things(span, after)
    return True


# "in dollars", "how many euros": the question names the currency the amount must be in
_CURRENCIES = {"$": "dollar", "dollar": "dollar", "usd": "dollar", "€": "euro", "euro": "euro", "eur": "euro",
               "£": "pound", "pound": "pound", "sterling": "pound", "gbp": "pound", "¥": "yen", "yen": "yen",
               "yuan": "yuan", "renminbi": "yuan", "₹": "rupee", "rupee": "rupee", "₽": "rouble", "rouble": "rouble",
               "ruble": "rouble", "franc": "franc"}
_CURRENCY_WORD = r"(dollars?|usd|euros?|eur|pounds?|sterling|gbp|yen|yuan|renminbi|rupees?|roubles?|rubles?|francs?)"
_ASKED_CURRENCY = re.compile(r"\b(?:in|into)\s+(?:(?:us|u\.s\.|american|australian|canadian|hong kong|new zealand|"
                             r"swiss|british)\s+)?" + _CURRENCY_WORD + r"\b|\bhow\s+many\s+" + _CURRENCY_WORD + r"\b",
                             re.I)
_AMOUNT_CURRENCY = re.compile(r"([" + re.escape(CURRENCY_SIGNS) + r"])|\b" + _CURRENCY_WORD + r"\b", re.I)
_CURRENCY_AFTER = re.compile(r"\s*" + _CURRENCY_WORD + r"\b", re.I)


def _currency(name: str) -> str:
    name = name.lower()
    return _CURRENCIES.get(name) or _CURRENCIES.get(name.rstrip("s"), name)


def asked_currency(question: str) -> str | None:
    """The currency a question asks an amount in: "dollar" for "How much is the loan worth in dollars?"."""
    m = _ASKED_CURRENCY.search(question)
    return _currency(next(g for g in m.groups() if g)) if m else None


def in_asked_currency(sentence: str, start: int, end: int, question: str) -> bool:
    """False when the question asks for an amount in one currency and the span is an amount in another:
    "€90 billion" for "How much is the loan worth in dollars?" where the sentence goes on "($106 billion)".
    The currency is the sign just before the span or in it, or a currency's name in it or just after it
    ("52m euros"); a span with none (a count, a name) is left to the other checks."""
    asked = asked_currency(question)
    if asked is None:
        return True
    after = _CURRENCY_AFTER.match(sentence, end)
    m = _AMOUNT_CURRENCY.search(sentence[max(0, start - 1):start] + sentence[start:end] + (after.group() if after else ""))
    return m is None or _currency(m.group(1) or m.group(2)) == asked


# "How cold…", "How old…", "How tall…", "What was the temperature?": the measure asked for is no sum of money,
# nor a percentage
# ("how deep are the cuts", "how heavy were the losses", "how wide is the deficit", "how fast did spending grow":
# money may answer those)
_NOT_MONEY_MEASURE = re.compile(
    r"\bhow\s+(hot|cold|warm|cool|chilly|freezing|old|tall)\b|\b(?:what|which)\s+(?:is\s+|was\s+)?(?:the\s+)?age\b"
    r"|\bhow\s+(?:low|high|far)\s+(?:did|does|do|will|would|could|can|have|has|had)\s+(?:the\s+)?temperatures?\b"
    r"|\b(?:what|which)\s+(?:was|were|is|are|will\s+be)\s+the\s+(?:[\w-]+\s+)?temperatures?\b", re.I)
_PERCENTAGE = re.compile(r"%|\bper\s?cent\b|\bpercentage points?\b", re.I)


def in_asked_dimension(sentence: str, start: int, end: int, question: str) -> bool:
    """False when the question asks for a measure that no amount of money gives and the span is one: "€90
    billion" for "How cold did it get in Kyiv?". The currency is found as ``in_asked_currency`` finds it; a
    percentage answers neither a temperature nor an age or a height."""
    m = _NOT_MONEY_MEASURE.search(question)
    if m is None or re.search(r"\bhow\s+(much|many)\b", question, re.I):
        return True  # "How much did heating cost when temperatures fell?" asks for money
    after = _CURRENCY_AFTER.match(sentence, end)
    around = sentence[max(0, start - 1):start] + sentence[start:end] + (after.group() if after else "")
    if _AMOUNT_CURRENCY.search(around):
        return False
    percent_after = re.match(r"\s*(%|per\s?cent\b)", sentence[end:], re.I)
    return not (_PERCENTAGE.search(sentence[start:end]) or percent_after)


def _rank_candidates(candidates, top: list[Evidence], question: str, draft: str, labels: Sequence[str],
                     noun: str | None = None):
    """The typed span most likely to answer: good sentence, preferred type, next to what is counted, new words."""
    q_words = {w for w in plain_words(question) if w not in STOPWORDS}
    draft_text = strip_markers(draft)
    noun_stem = stem(noun) if noun else None

    def score(c):
        i, a, b, label = c
        ev = top[i]
        span = ev.text[a:b]
        span_words = plain_words(span)
        s = ev.score - 0.1 * i
        s += 0.2 * (1 - labels.index(label) / len(labels)) if label in labels else 0.0
        if span_words and span_words <= q_words:
            s -= 1.0  # an answer that only repeats the question is no answer
        elif span_words & q_words:
            s -= 0.2
        owner = re.match(r"['’]s\s+(\w+)", ev.text[b:b + 40])
        if owner and owner.group(1).lower() in q_words:
            s -= 0.5  # "Russia’s Vladimir Putin": it qualifies what the question names, it does not answer
        if noun_stem and noun_stem in {stem(w) for w in words(ev.text[a:b + 30])[:6]}:
            s += 0.3  # "314 prisoners" for "how many prisoners"
        s += 0.3 * token_f1(span, draft_text)
        positions = [m.start() for m in re.finditer(r"\w+", ev.text) if m.group().lower() in q_words]
        if positions:
            s -= 0.002 * min(abs(p - a) for p in positions)
        return s

    return max(candidates, key=score)


def _trusting_claims(draft: str, top: list[Evidence]) -> list[Claim]:
    """Verification off (ablation): take the draft as written, cite the passages it names."""
    text = draft.strip()
    if not strip_markers(text) or REFUSAL.search(text):  # nothing but "[1]" is no answer either
        return []
    marks = [int(m) for m in re.findall(r"\[(\d+)\]", text) if 1 <= int(m) <= len(top)]
    return [Claim(strip_markers(text), (marks[0] - 1) if marks else 0, "sentence")]


def _render(claims: Sequence[Claim], evidence: Sequence[Evidence]) -> tuple[list[Citation], str]:
    """Answer text with markers renumbered 1..n by first appearance, and the citations they point to."""
    numbers: dict[int, int] = {}
    pieces = []
    for c in claims:
        n = numbers.setdefault(c.evidence, len(numbers) + 1)
        if c.kind == "quote":
            pieces.append(f"{quoted(c.text)} [{n}]")
        elif c.kind == "sentence" and c.text and c.text[-1] in ".!?":
            pieces.append(f"{c.text[:-1]} [{n}]{c.text[-1]}")
        else:
            pieces.append(f"{c.text} [{n}]")
    citations = []
    for idx, n in numbers.items():
        e = evidence[idx]
        quote = _without_next_opening_quote(e.text)
        citations.append(Citation(n, e.doc_id, e.title, e.chunk_id, e.start, e.start + len(quote), quote, e.context))
    return citations, " ".join(pieces)


def _without_next_opening_quote(sentence: str) -> str:
    """A quote mark that opens nothing (the last thing in its paragraph, "… Jared Kushner. “") is not quoted:
    a citation ends at its sentence's last word."""
    return re.sub(r"\s*[“‘«]+$", "", sentence) or sentence


# "When will …?", "When is the deal due to come into force?": a time still to come
_ASKS_FUTURE = re.compile(r"^\W*(?:when|(?:(?:on|by|in|at)\s+)?what\s+(?:date|day|time|year|month))\s+"
                          r"(?:will|shall|(?:is|are)\b.*\b(?:due|going|expected|set|scheduled)\s+to"
                          r"|(?:do|does)\b.*\bexpects?\b)", re.I)


_TO_A_TIME = frozenset({"for", "until", "till", "to", "by", "of", "before"})
_SAYING = frozenset(stem(w) for w in ("say", "said", "tell", "told", "write", "wrote", "announce", "state", "add",
                                      "claim", "post", "tweet", "declare", "report", "confirm"))
_MEDIA = frozenset(stem(w) for w in ("post", "statement", "interview", "briefing", "tweet", "message", "address",
                                     "letter", "speech", "conference", "broadcast", "platform", "blog", "website",
                                     "video", "email", "note", "comments", "remarks", "call", "programme", "show"))
_SCHEDULING = frozenset(stem(w) for w in ("expect", "schedule", "set", "plan", "delay", "postpone", "move", "call",
                                           "announce", "fix", "bring", "put", "push", "due"))


def past_for_future(doc, start: int, end: int, question: str) -> bool:
    """True when ``doc[start:end]`` is the time of something its sentence says has happened and the question asks
    when something will (or on what date): "This week" of "This week European Union member states agreed on a framework for how to
    provide Kyiv with a €90 billion loan." does not say when Ukraine will repay it ("in October 2016" of "… plants
    will close in October 2016" does; "in May" of "Rates are likely to rise after the general election in May" too)."""
    span = parsed_span(doc, start, end) if _ASKS_FUTURE.match(question) else None
    if span is None:
        return False
    t = span.root
    if t.head.pos_ == "ADP":
        if t.head.lower_ in _TO_A_TIME:
            return False  # a time something is set for: "called a general election for 5 May", "delayed … to March"
        t = t.head
    t = t.head  # the verb the time is of: "agreed" of "This week", "issued" of "on Wednesday night"
    while t.head.i != t.i and t.pos_ in ("NOUN", "PROPN", "ADP"):
        t = t.head  # past the noun it may qualify: "ended" of "Discussions on Thursday have ended"
    if t.pos_ not in ("VERB", "AUX") or any(c.tag_ == "MD" for c in t.children):
        return False
    if t.i < span.start and lemma_stem(t.lower_) in _SCHEDULING:
        return False  # nor, after a scheduling verb, the time it sets: "expected on Friday" (not "this week called")
    if t.i < span.start and any(w.pos_ in ("NOUN", "PROPN") for w in doc[t.i + 1:span.start]) and not (
            lemma_stem(t.lower_) in _SAYING and all(w.pos_ == "PROPN" or w.text[:1].isupper() or stem(w.text) in _MEDIA
                                                  for w in doc[t.i + 1:span.start] if w.pos_ == "NOUN")):
        # it may be the noun's, whatever the parse says: "agreed on a new round of talks in March" (not where it
        # was said: "said in a post on platform X on Thursday" is when he said it)
        return False
    # (a participle too when it qualifies a noun: "issued" of "In a statement issued on Wednesday night, …", or
    # after "have": "Discussions on Thursday have ended")
    return t.tag_ == "VBD" or (t.tag_ == "VBN" and (t.dep_ == "acl" or any(
        c.dep_ == "aux" and c.lower_ in ("have", "has", "had", "'ve", "'s") for c in t.children)))


def _countries_owning(doc) -> list:
    """The tokens of ``doc`` that say whose something is by a country: "Russia" of "Russia's negotiating team",
    "Ukrainian" of "the Ukrainian delegation"."""
    return [t for t in doc if t.dep_ in ("poss", "amod", "compound") and t.head.pos_ == "NOUN"
            and country_forms(t.text)]


def about_another_country(doc, start: int, end: int, question_doc) -> bool:
    """True when the question asks about one country's something ("Who led Russia's negotiating team?") and the
    sentence ``doc`` never names that country, while ``doc[start:end]`` stands in what it says is another's: "Rustem
    Umerov" of "The head of Ukraine’s delegation, national security chief Rustem Umerov, …" (the phrase another
    country owns, with what qualifies it: "the head of …" and its apposition)."""
    span = parsed_span(doc, start, end)
    if span is None or not parsed(question_doc):
        return False
    asked = {frozenset(country_forms(t.text)) for t in _countries_owning(question_doc)}
    if len(asked) != 1:
        return False
    forms = next(iter(asked))
    if any(mentions(doc.text, f) for f in forms):
        return False
    for t in _countries_owning(doc):
        if country_forms(t.text) & forms:
            continue
        owned = t.head
        while owned.dep_ == "compound" and owned.head.i != owned.i:
            owned = owned.head  # "Ukrainian negotiator John Smith"
        while owned.dep_ == "pobj" and owned.head.dep_ == "prep" and owned.head.head.pos_ in ("NOUN", "PROPN"):
            owned = owned.head.head  # "the head of Ukraine’s delegation"
        if owned.left_edge.i <= span.root.i <= owned.right_edge.i:
            return True
    return False


def about_another_person(sentence: str, question_doc) -> bool:
    """True when the question asks about one person (a name, the subject of its verb) and names another, and
    ``sentence`` names the other but not the one asked about: "Melanie Purkiss winning the women's national 400m
    race in a new personal best of 52.98 seconds" does not say what time Kim Wall ran "when she finished second to
    Melanie Purkiss". A sentence that opens on a pronoun may speak of the asked person by it: no."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP") \
            or _OPENING_PRONOUN.match(sentence):
        return False
    people = [e for e in question_doc.ents if e.label_ == "PERSON"]
    if len(people) < 2:
        return False
    asked = [e for e in people if e.root.dep_ in _SUBJECTS and e.root.head.pos_ in ("VERB", "AUX")
             and e.root.head.dep_ == "ROOT"]
    if len(asked) != 1:
        return False
    # (not one the same verb takes: "Trump" of "When did Putin meet Trump?" is part of what is asked)
    others = [e for e in people if e.start != asked[0].start and e.root.head.i != asked[0].root.head.i]
    return bool(names_missing({asked[0].text.lower()}, sentence)) and any(
        not names_missing({e.text.lower()}, sentence) for e in others)
