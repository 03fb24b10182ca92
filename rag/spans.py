"""Choosing the answer span: candidates from the best sentences, ranked by evidence and the LLM.

Free generation is the weak link of a 135M model: it writes the right span for
about a quarter of the questions, yet it is much better at *recognising* the
answer among a few candidates. So the pipeline proposes the spans itself and
lets a small linear ranker pick one:

1. ``span_candidates`` lists the named entities, noun phrases (base noun
   chunks and whole noun subtrees, "the Treaty of Versailles") and numbers of
   the best sentences, leaving out spans that only repeat the question;
2. ``candidate_features`` describes each one by the evidence around it (how
   good its sentence is, how near it sits to the question's words, whether its
   type is the one the question asks for, whether the model's own draft says
   it) and, for the few best, by the LLM's likelihood of answering with it
   (``LlamaCppGenerator.score``, on the prompt already in its KV cache);
3. ``SpanRanker`` scores them with weights learned by
   ``eval/train_span_ranker.py`` (logistic regression; the JSON beside this
   file). A cheap first stage keeps the best ``prefilter`` candidates for the
   LLM (with the answer scorer, helped by its log-probability of each
   candidate's first token, which reading the prompt gives for all of them);
   the second stage adds the LLM's features.

The ranker only chooses *which* words answer. Whether to answer at all stays
with the verification in ``rag.answer``: weak evidence, a missing name or
number, or no span of the asked-for type still abstain.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from rag.citations import (
    Evidence, counted_noun, counts_noun, expected_labels, is_acronym_of, name_runs, strip_markers,
)
from rag.places import NAME_LABELS, moved_to, named_as_place
from rag.text import (
    DATE_LIKE, STOPWORDS, lemma_stem, numbers_in, parsed_span, plain_words, question_stems, stem, token_f1, words,
)

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).with_name("span_ranker.json")
# the same ranker trained on an answer scorer's likelihoods (rag.llm.LikelihoodScorer, RAG_SCORER_PATH)
SCORER_WEIGHTS = Path(__file__).with_name("span_ranker_scorer.json")
# a number standing on its own, with a sign and a short unit ("-25C", "5km", "40%"), not the tail of a
# name or a range ("COVID-19", "A320", "2020-2021")
NUMBER = re.compile(r"(?<![\w.,\-−])[-−]?\d+(?:[.,]\d+)*(?:[A-Za-z%]{1,3})?(?!\w)")
QUOTED = re.compile(r"[“\"]([^“”\"]{2,120})[”\"]")
LP_FLOOR = -100.0  # the log-probability given to a continuation the LLM could not score
MAX_SPAN_WORDS = 12
# courtesy titles add nothing to a name: "Mr Blair" only repeats "Tony Blair" of the question
HONORIFICS = frozenset("mr mrs ms miss mx dr sir dame lord lady madam".split())
ACTION_QUESTION = re.compile(r"\b(?:happen(?:s|ed|ing)?|promise[sd]?|plan(?:s|ned)?)\b", re.I)
_DO = {"do", "does", "did", "doing", "done"}

CHEAP_FEATURES = ("ev_rank", "ev_score", "ev_coverage", "q_overlap", "q_distance", "n_words", "is_entity",
                  "type_match", "primary_type", "typed_question", "typed_not_entity", "has_digit", "draft_f1",
                  "is_subtree", "is_name",
                  # what kind of span it is, and whether the question asks for that kind
                  "is_clause", "is_verb", "is_adjective", "clause_for_why", "action_for_do",
                  "typed_name", "counted_noun", "owner_of_question",
                  # where the span sits in the sentence's dependency tree, relative to the question's words
                  "dep_distance", "head_in_question", "sibling_of_question", "role_subject", "role_object",
                  "role_pobj", "role_appos", "role_modifier", "same_role_as_wh",
                  # the question with the span in place of its wh-phrase, embedded against the sentence
                  "answered_cos",
                  # the words around the question's gap against the words around the span
                  "left_match", "right_match", "left_adjacent", "right_adjacent", "wh_noun_near")
LLM_FEATURES = ("lp_sum", "lp_end", "lp_total", "lp_mean", "n_tokens")
# the answer scorer's log-probability of a span's first token, which it has for every candidate as soon as it
# has read the prompt (rag.llm.LikelihoodScorer.score_shortlist): the cheap stage's, when the weights name it
FIRST_TOKEN_FEATURES = ("lp_first",)


@dataclass
class Candidate:
    text: str
    evidence: int         # index into the evidence list
    start: int            # character offsets in the evidence sentence
    end: int
    label: str | None     # spaCy entity label, if the span is an entity
    kind: str             # "entity" | "name" | "chunk" | "subtree" | "clause" | "verb" | "adjective" | "quote" | "number"
    features: dict[str, float] | None = None
    score: float = 0.0
    doc: object = None    # the parsed sentence (spaCy Doc), for the syntactic features



def span_candidates(docs: Sequence, question: str) -> list[Candidate]:
    """Entities, noun phrases and numbers of each parsed sentence (``docs[i]`` is evidence ``i``)."""
    # the question's words, and the acronyms of its names: "the USA" only repeats "In the United States, …?"
    initials = {"".join(w[0] for w in run.split()) for run in name_runs(question) if " " in run}
    q_words = plain_words(question) | numbers_in(question) | {w for text in (d.text for d in docs) for w in plain_words(text)
                                                              if any(is_acronym_of(w, i) for i in initials)}
    q_stems = question_stems(question)
    out: dict[str, Candidate] = {}

    def add(i, doc, a, b, label, kind):
        raw = doc.text[a:b].strip()
        text = raw.strip(",;:.\"“”'()").strip()
        if raw.endswith(".") and re.fullmatch(r"(?:\w\.)+\w", text):
            text += "."  # "U.S." keeps its last full stop
        if not text or (doc.text[max(0, a - 1):a] == "[" and doc.text[b:b + 1] == "]"):
            return  # nothing left, or a citation marker "[1]" quoted in an article
        a = doc.text.find(text, a)
        if len(text) == 1 and text.isupper() and doc.text[a + 1:a + 2] == ".":
            return  # an initial ("T" of "The T. T. Tsui Gallery") is part of a name, not one
        content = {w for w in plain_words(text) if w not in STOPWORDS}
        if not content - HONORIFICS or content - HONORIFICS <= q_words or len(words(text)) > MAX_SPAN_WORDS:
            return  # an answer that only repeats the question is no answer
        if text not in out:
            out[text] = Candidate(text, i, a, a + len(text), label, kind, doc=doc)
        elif label and not out[text].label:
            out[text].label = label

    for i, doc in enumerate(docs):
        for e in doc.ents:
            add(i, doc, e.start_char, e.end_char, e.label_, "entity")
            head = e.root.head if getattr(doc, "has_annotation", lambda _: False)("DEP") else None
            if (e.label_ in ("NORP", "GPE") and e.root.pos_ == "ADJ" and head is not None and head.i == e.end
                    and head.pos_ == "NOUN"):
                # "Ukrainian authorities": a nationality with the group it qualifies is who did it
                add(i, doc, e.start_char, head.idx + len(head), e.label_, "entity")
        if getattr(doc, "has_annotation", lambda _: False)("DEP"):  # no parser (spaCy missing): entities only
            for nc in doc.noun_chunks:
                while len(nc) > 1 and nc[-1].ent_type_ in ("DATE", "TIME") and nc[0].ent_type_ not in ("DATE", "TIME"):
                    nc = nc[:-1]  # "a trip to Kyiv Thursday": the parser's chunk "Kyiv Thursday" is Kyiv, on Thursday
                add(i, doc, nc.start_char, nc.end_char, None, "chunk")
                if nc[0].pos_ == "DET" and len(nc) > 1:
                    add(i, doc, nc[1].idx, nc.end_char, None, "chunk")
            run = []
            for tok in list(doc) + [None]:  # runs of proper nouns: "Rustem Umerov" in "security chief Rustem Umerov"
                # a day or a month ends a name: "a trip to Kyiv Thursday" is a trip to Kyiv
                if tok is not None and tok.pos_ == "PROPN" and tok.ent_type_ not in ("DATE", "TIME"):
                    run.append(tok)
                    continue
                if run:
                    add(i, doc, run[0].idx, run[-1].idx + len(run[-1]), None, "name")
                run = []
            for tok in doc:
                if tok.pos_ in ("NOUN", "PROPN", "NUM") and tok.left_edge.i == tok.right_edge.i == tok.i:
                    # a lone noun outside any noun chunk: "… the most implacable in the talks: territory."
                    add(i, doc, tok.idx, tok.idx + len(tok), None, "chunk")
                if tok.pos_ in ("NOUN", "PROPN", "NUM") and tok.right_edge.i > tok.i:
                    sub = doc[tok.left_edge.i:tok.right_edge.i + 1]
                    add(i, doc, sub.start_char, sub.end_char, None, "subtree")
                    if sub[0].pos_ == "DET" and len(sub) > 1:
                        add(i, doc, sub[1].idx, sub.end_char, None, "subtree")
            for tok in doc:
                clause_candidates(i, doc, tok, add, q_stems)
        for m in QUOTED.finditer(doc.text):  # what someone called it: “meaningful and productive”
            add(i, doc, m.start(1), m.end(1), None, "quote")
        for m in DATE_LIKE.finditer(doc.text):  # a year the NER called a cardinal is a date
            add(i, doc, m.start(), m.end(), "DATE", "number")
            c = out.get(doc.text[m.start():m.end()].strip())
            if c is not None and c.label in (None, "CARDINAL"):
                c.label = "DATE"
        for m in NUMBER.finditer(doc.text):
            add(i, doc, m.start(), m.end(), "CARDINAL", "number")
        for m in re.finditer(r"\b(?:once|twice|thrice)\b", doc.text, re.I):  # "won the cup twice"
            add(i, doc, m.start(), m.end(), "CARDINAL", "number")
        if asks_score(question):  # a tennis match's sets together: "2-6 6-3 6-0"
            for a, b in score_runs(doc.text):
                add(i, doc, a, b, "CARDINAL", "number")
    labels = expected_labels(question)
    if labels and labels[0] in ("GPE", "LOC"):
        # a place the NER read as a person or as nothing ("Kyiv") is a place to a question that asks for one,
        # when the sentence names it as one ("a trip to Kyiv"): not "Obama", "March" or "Police" (rag.places)
        for c in out.values():
            if (c.label not in labels and (c.label or "") in NAME_LABELS and c.kind in ("entity", "name")
                    and (named_as_place(c.doc.text, c.text) or moved_to(c.doc, c.start, c.end))):
                c.label = "GPE"
    return list(out.values())


# the clauses a question can ask for: "pledging [to end it swiftly]", "not because of …, but [because it still
# believes …]", "Russian forces unleashed an attack, [plunging the capital into darkness]"
CLAUSE_DEPS = {"xcomp", "ccomp", "advcl", "acl", "relcl", "pcomp", "csubj", "conj"}
# a clause's opening word that is not part of what it says: "because …", "that …", "whether …"
_OPENERS = {"mark", "cc", "punct", "prep"}


def clause_candidates(i: int, doc, tok, add, q_stems: set[str]) -> None:
    """Candidates that are not noun phrases: a verb's clause (with and without its opening "because" or
    "to"), a predicate adjective with what it governs ("politically and socially unstable"), a lone verb
    ("regenerate") or adjective ("complex"), unless the question has that verb ("lost" for "Why did they lose?")."""
    if tok.pos_ in ("VERB", "AUX") and tok.dep_ in CLAUSE_DEPS:
        sub = doc[tok.left_edge.i:tok.right_edge.i + 1]
        if sub[0].i < tok.i and doc[tok.i - 1].is_punct and sub[0].i == tok.i - 1:
            sub = doc[tok.i:sub.end]  # ", plunging …": the comma belongs to the sentence, not the clause
        ends = [sub.end_char]
        rights = list(tok.rights)
        if rights and rights[-1].dep_ in ("prep", "advcl", "advmod", "npadvmod") and rights[-1].left_edge.i > tok.i:
            # without its last modifier: "to end it swiftly [on the campaign trail]"
            last = doc[rights[-1].left_edge.i - 1]
            ends.append(last.idx + len(last))
        k = sub.start
        while k < tok.i and doc[k].dep_ in _OPENERS:
            k += 1
        starts = [sub.start_char, doc[k].idx]
        if k < tok.i and doc[k].tag_ == "TO":  # "to end it swiftly" and "end it swiftly"
            starts.append(doc[k + 1].idx)
        for a in dict.fromkeys(starts):
            for b in ends:
                add(i, doc, a, b, None, "clause")
    if (tok.pos_ == "VERB" and tok.dep_ not in ("amod", "compound")
            and not {stem(tok.lower_), lemma_stem(tok.lower_)} & q_stems):
        end = tok
        for child in tok.rights:  # a verb with its particle: "gave up"
            if child.dep_ == "prt" and child.i == end.i + 1:
                end = child
        add(i, doc, tok.idx, end.idx + len(end), None, "verb")
    if tok.pos_ == "ADJ" and tok.dep_ in ("acomp", "oprd", "attr", "conj", "ROOT", "advcl", "xcomp"):
        add(i, doc, tok.left_edge.idx, tok.right_edge.idx + len(tok.right_edge), None, "adjective")
        if tok.left_edge.i != tok.i or tok.right_edge.i != tok.i:
            add(i, doc, tok.idx, tok.idx + len(tok), None, "adjective")


def candidate_features(c: Candidate, evidence: Sequence[Evidence], question: str,
                       labels: Sequence[str] | None, draft_answer: str, question_doc=None) -> dict[str, float]:
    ev = evidence[c.evidence]
    q_words = {w for w in plain_words(question) if w not in STOPWORDS}
    content = {w for w in plain_words(c.text) if w not in STOPWORDS}
    positions = [m.start() for m in re.finditer(r"\w+", ev.text) if m.group().lower() in q_words]
    distance = min(abs(p - c.start) for p in positions) if positions else 200
    typed = bool(labels)
    noun = counted_noun(question, question_doc)
    # "314 prisoners" for "how many prisoners": the number that counts what the question counts
    counts = counts_noun(ev.text, c.start, c.end, noun, doc=c.doc)
    return {
        "ev_rank": float(c.evidence),
        "ev_score": ev.score,
        "ev_coverage": ev.coverage,
        "q_overlap": len(content & q_words) / max(1, len(content)),
        "q_distance": min(distance, 200) / 100,
        "n_words": float(len(words(c.text))),
        "is_entity": float(c.label is not None and c.kind != "number"),
        "type_match": float(typed and c.label in labels),
        # the likeliest type: a person for "who", though a country or a party may answer it too
        "primary_type": float(typed and c.label == labels[0]),
        "typed_question": float(typed),
        "typed_not_entity": float(typed and c.label is None),
        "has_digit": float(bool(re.search(r"\d", c.text))),
        "draft_f1": token_f1(c.text, strip_markers(draft_answer)) if draft_answer else 0.0,
        "is_subtree": float(c.kind == "subtree"),
        "is_name": float(c.kind == "name"),
        "is_clause": float(c.kind == "clause"),
        "is_verb": float(c.kind == "verb"),
        "is_adjective": float(c.kind == "adjective"),
        # "Why …?" asks for a clause ("because it still believes …"), "What did X do?" for an action
        "clause_for_why": float(c.kind == "clause" and asks_reason(question)),
        "action_for_do": float(c.kind in ("clause", "verb") and asks_action(question, question_doc)),
        "typed_name": float(typed and c.kind == "name" and "PERSON" in labels),
        "counted_noun": float(counts),
        "owner_of_question": float(owner_of_question(c, ev.text, question, q_words)),
        **syntax_features(c, question, question_doc),
        **context_features(c, question_doc),
    }


def asks_reason(question: str) -> bool:
    """ "Why …?": the answer is a reason, said in a clause."""
    return bool(re.search(r"\bwhy\b", question, re.I))


def asks_action(question: str, question_doc=None) -> bool:
    """ "What does a lama do?", "What happened to the crew?": the answer is something done. "do" as an
    auxiliary ("Why did the team lose?") asks nothing of the kind; without a parse only "do", "doing"
    and "done" count."""
    if ACTION_QUESTION.search(question):
        return True
    if question_doc is not None and getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return any(t.lower_ in _DO and t.dep_ not in ("aux", "auxpass") for t in question_doc)
    return bool(re.search(r"\b(?:do|doing|done)\b", question, re.I))


_ASKS_ORIGIN = re.compile(r"\bfrom\s+(?:which|what)\b|\bfrom\s*[?.!]?\s*$|\b(?:come|comes|came|hail|hails|hailed)\s+from\b",
                          re.I)


def owner_of_question(c: Candidate, sentence: str, question: str, q_words: set[str]) -> bool:
    """True when the candidate owns what the question names: "Russia’s Vladimir Putin" for "Where did Trump
    host Vladimir Putin?", "Ukraine’s eastern Donbas region" for "Which region…?". It qualifies the thing
    asked about, it is not that thing. A "whose" question asks for exactly the owner ("Hadrian's"), and so
    does one that asks where someone is from: "Birmingham's Sion Simon" answers "Sion Simon is from which
    city?"."""
    if re.search(r"\bwhose\b", question, re.I) or _ASKS_ORIGIN.search(question):
        return False
    after = re.match(r"['’]s\s+(\w+)", sentence[c.end:c.end + 40])
    if after and after.group(1).lower() in q_words:
        return True
    doc = c.doc
    if after is None or doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return False
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    # the possessed noun may stand a few words on, past its adjectives and compounds
    return span is not None and span.root.dep_ == "poss" and span.root.head.lower_ in q_words


_ROLES = {"nsubj": "subject", "nsubjpass": "subject", "csubj": "subject", "agent": "subject",
          "dobj": "object", "attr": "object", "oprd": "object", "dative": "object", "pobj": "pobj",
          "appos": "appos", "compound": "modifier", "amod": "modifier", "poss": "modifier", "nmod": "modifier"}
# not "npadvmod": the small parser gives it to a noun after a colon ("…has proved the most implacable: territory")
_WH_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}


def _role(token) -> str:
    return _ROLES.get(token.dep_, "other")


def _tree_distance(a, b) -> int:
    """Edges between two tokens of one parse."""
    up_a = [a, *a.ancestors]
    depth = {t.i: k for k, t in enumerate(up_a)}
    for k, t in enumerate([b, *b.ancestors]):
        if t.i in depth:
            return k + depth[t.i]
    return 99  # different sentences of one doc


def wh_role(question_doc) -> str | None:
    """The grammatical role the question's wh-word plays ("Who did X beat?" → object), if parsed."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return None
    for t in question_doc:
        if t.lower_ in _WH_WORDS:
            return _role(t.head if t.dep_ == "det" else t)  # "which team" plays the team's role
    return None


def syntax_features(c: Candidate, question: str, question_doc=None) -> dict[str, float]:
    """Where the span sits in its sentence's parse, relative to the words it shares with the question.

    An answer is usually close in the tree to the question's words (the object of the verb the
    question asks about), not just close in characters.
    """
    out = {"dep_distance": 1.0, "head_in_question": 0.0, "sibling_of_question": 0.0, "role_subject": 0.0,
           "role_object": 0.0, "role_pobj": 0.0, "role_appos": 0.0, "role_modifier": 0.0, "same_role_as_wh": 0.0}
    doc = c.doc
    if doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return out
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    if span is None or not len(span):
        return out
    root = span.root
    q_stems = question_stems(question)
    q_tokens = [t for t in doc if not span.start <= t.i < span.end and not t.is_stop
                and (stem(t.text) in q_stems or lemma_stem(t.text) in q_stems)]
    if q_tokens:
        out["dep_distance"] = min(min(_tree_distance(root, t) for t in q_tokens), 8) / 8
    head = root.head
    out["head_in_question"] = float(head.i != root.i and (stem(head.text) in q_stems or lemma_stem(head.text) in q_stems))
    out["sibling_of_question"] = float(any(t.head.i == head.i and head.i != root.i for t in q_tokens))
    role = _role(root)
    if role != "other":
        out[f"role_{role}"] = 1.0
    wh = wh_role(question_doc)
    out["same_role_as_wh"] = float(wh is not None and wh != "other" and wh == role)
    return out



def context_features(c: Candidate, question_doc) -> dict[str, float]:
    """How well the words around the question's gap match the words around the span.

    A question is often its sentence with the answer taken out: "Completing Q with respect to what will
    produce …" leaves "respect to" before the gap, and the sentence has "with respect to the absolute value";
    "In what English colony …" names the noun ("colony") that stands next to the answer ("the colony of
    Virginia"). Stems, punctuation left out; stopwords count, since "as" or "to" places a gap well.
    """
    out = {"left_match": 0.0, "right_match": 0.0, "left_adjacent": 0.0, "right_adjacent": 0.0, "wh_noun_near": 0.0}
    doc = c.doc
    span = wh_phrase(question_doc)
    if span is None or doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP"):
        return out
    a, b, _ = span
    q_tokens = [t for t in question_doc if not t.is_punct]
    before = [t for t in q_tokens if t.idx + len(t) <= a]
    if len(before) <= 1 and wh_role(question_doc) != "subject" and q_tokens and q_tokens[-1].idx >= b:
        # a fronted wh-phrase ("What were NTL's services rebranded as?", "In what colony were they promised
        # land?"): the gap of the statement is at the question's end ("… rebranded as ___")
        q_left = [stem(t.text) for t in q_tokens[-3:]]
        q_right = []
    else:
        q_left = [stem(t.text) for t in before[-3:]]
        q_right = [stem(t.text) for t in q_tokens if t.idx >= b][:3]
    toks = [t for t in doc if not t.is_punct]
    s_left = [stem(t.text) for t in toks if t.idx + len(t) <= c.start][-4:]
    s_right = [stem(t.text) for t in toks if t.idx >= c.end][:4]
    if q_left and s_left:
        out["left_match"] = sum(w in s_left for w in q_left) / len(q_left)
        out["left_adjacent"] = float(s_left[-1] == q_left[-1])
    if q_right and s_right:
        out["right_match"] = sum(w in s_right for w in q_right) / len(q_right)
        out["right_adjacent"] = float(s_right[0] == q_right[0])
    # the noun the wh-word asks about: "what English colony were …" (the small parser may not attach it)
    nouns = set()
    for t in question_doc:
        if t.idx < a or t.lower_ in _WH_WORDS:
            continue
        if t.pos_ not in ("NOUN", "PROPN", "ADJ", "NUM") or len(nouns) >= 3:
            break
        if t.pos_ in ("NOUN", "PROPN"):
            nouns.add(stem(t.text))
    if nouns:
        inside = {stem(w) for w in words(c.text)}
        out["wh_noun_near"] = float(bool(nouns & (set(s_left[-3:]) | set(s_right[:3]) | inside)))
    return out



def _asking_wh(question_doc):
    """The wh-word the question asks with: a trailing one ("… is called what?"), else the first that is
    neither a relative pronoun ("persons who oppose …") nor part of a name ("Doctor Who")."""
    def in_name(t):  # "Doctor Who": a capitalised wh-word inside the sentence
        prev = question_doc[t.i - 1] if t.i > 0 else None
        return t.pos_ == "PROPN" or (prev is not None and t.text[:1].isupper() and not (prev.is_punct or prev.is_space))

    whs = [t for t in question_doc if t.lower_ in _WH_WORDS and not in_name(t)]
    if not whs:
        return None
    content = [t for t in question_doc if not t.is_punct]
    if content and content[-1].i == whs[-1].i:
        return whs[-1]
    for t in whs:
        relative = t.i > 0 and t.head.dep_ == "relcl" and question_doc[t.i - 1].pos_ in ("NOUN", "PROPN", "PRON")
        if not relative:
            return t
    return whs[0]


def wh_phrase(question_doc) -> tuple[int, int, bool] | None:
    """Character offsets of the question's wh-phrase: "How many" in "How many prisoners were swapped?",
    "Which region" in "Which region has Russia insisted on seizing?", "Who" in "Who announced …"; and
    whether it is a possessive ("Whose …")."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return None
    t = _asking_wh(question_doc)
    if t is None:
        return None
    h = t.head
    # "which region", "what year", "how many", "how long": the word it qualifies belongs to it;
    # not the verb of "how did he describe it"
    if h.i > t.i and (t.dep_ == "det" or (t.lower_ == "how" and h.pos_ in ("ADJ", "ADV", "DET"))):
        return t.idx, h.idx + len(h.text), False
    return t.idx, t.idx + len(t.text), t.lower_ == "whose"


def answered_question(question: str, span: tuple[int, int, bool] | None, answer: str) -> str:
    """The question as a statement the candidate would make true: "314 prisoners were swapped"."""
    if span is None:
        return f"{answer} {question}".rstrip(" ?")
    a, b, possessive = span
    return (question[:a] + answer + ("'s" if possessive else "") + question[b:]).rstrip(" ?")


def add_answered_cos(candidates: Sequence[Candidate], sentences: Sequence[str], question: str, question_doc,
                     embedder, sentence_vectors: Sequence | None = None) -> None:
    """``answered_cos``: how close the question, answered by the candidate, comes to the candidate's own
    sentence (MiniLM cosine). The span that fills the question's gap makes it read like the sentence; a span
    from elsewhere in the sentence makes it read like neither.

    The short statements are embedded in one batch of their own: with the sentences in it, every one would
    be padded to a sentence's length (3x the time). ``sentence_vectors`` are the sentences' embeddings if
    they were already computed (``gather_evidence`` keeps them)."""
    if not candidates:
        return
    span = wh_phrase(question_doc)
    vecs = embedder.encode_documents([answered_question(question, span, c.text) for c in candidates])
    if sentence_vectors is None or any(v is None for v in sentence_vectors):
        sentence_vectors = embedder.encode_documents(list(sentences))
    for c, v in zip(candidates, vecs):
        c.features["answered_cos"] = float(v @ sentence_vectors[c.evidence])


def llm_features(lp_sum: float, lp_end: float, n_tokens: int) -> dict[str, float]:
    lp_sum, lp_end = max(LP_FLOOR, lp_sum), max(LP_FLOOR, lp_end)
    return {"lp_sum": lp_sum, "lp_end": lp_end, "lp_total": lp_sum + lp_end,
            "lp_mean": (lp_sum + lp_end) / (n_tokens + 1), "n_tokens": float(n_tokens)}


class SpanRanker:
    """Two linear stages over the features above; weights from ``eval/train_span_ranker.py``."""

    def __init__(self, weights: dict):
        self.prefilter = int(weights.get("prefilter", 8))
        self.stages = {name: weights[name] for name in ("cheap", "full", "confidence") if name in weights}
        # under this confidence no candidate looks like an answer (eval/calibrate_span_floor.py)
        self.floor: float | None = weights.get("abstain_below")
        self.floor_coverage_weight: float = weights.get("abstain_coverage_weight", 0.0)

    @classmethod
    def neutral(cls, prefilter: int = 64) -> "SpanRanker":
        """Scores every candidate 0: for collecting training features (eval/train_span_ranker.py)."""
        zero = {"features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0}
        return cls({"prefilter": prefilter, "cheap": zero, "full": zero})

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> "SpanRanker":
        return _load(str(path))

    def _score(self, stage: str, features: dict[str, float]) -> float:
        w = self.stages[stage]
        z = w["intercept"]
        for name, mean, scale, coef in zip(w["features"], w["mean"], w["scale"], w["coef"]):
            # a first-token log-probability the scorer could not give counts at its mean, not as certain
            x = features.get(name, mean if name in FIRST_TOKEN_FEATURES else 0.0)
            if not math.isfinite(x):
                x = mean
            z += coef * (x - mean) / scale
        return z

    def answer_score(self, candidate: Candidate) -> float:
        """How much the ranked ``candidate`` looks like an answer, on a scale shared by all questions: the
        ``confidence`` stage's score (a pointwise model: a listwise ranker's scores only order one question's
        candidates), or the score it was ranked by. A candidate the scorer could not rate has no likelihood
        features: they count at their mean, not as certain (log-probability 0)."""
        if "confidence" not in self.stages:
            return candidate.score
        w = self.stages["confidence"]
        return self._score("confidence", {n: candidate.features.get(n, m) for n, m in zip(w["features"], w["mean"])})

    def confidence(self, candidate: Candidate) -> float:
        """``answer_score`` plus the weighted share of the question's words around the candidate's sentence (a
        span of a sentence about something else scores low): what the abstention floor is compared with."""
        return self.answer_score(candidate) + self.floor_coverage_weight * candidate.features.get("ev_coverage", 0.0)

    def shortlist(self, candidates: list[Candidate], limit: int | None = None) -> list[Candidate]:
        """The candidates worth asking the LLM about, best first by the cheap stage."""
        for c in candidates:
            c.score = self._score("cheap", c.features)
        ranked = sorted(candidates, key=lambda c: -c.score)
        return ranked[:limit or self.prefilter] if limit != 0 else ranked

    def rank(self, candidates: list[Candidate], with_llm: bool) -> list[Candidate]:
        stage = "full" if with_llm and "full" in self.stages else "cheap"
        for c in candidates:
            c.score = self._score(stage, c.features)
        return sorted(candidates, key=lambda c: -c.score)


@lru_cache(maxsize=4)
def _load(path: str) -> SpanRanker:
    return SpanRanker(json.loads(Path(path).read_text(encoding="utf-8")))


# -- the whole answer: a range's both ends, a list's every item ------------------------------------------

_AMOUNT = r"[$£€]?\d[\d,.]*%?"
_RANGE_AFTER = re.compile(r"\s*(?:–|—|-|to)\s*" + _AMOUNT + r"(?:\s+(?:hundred|thousand|million|billion|trillion))?"
                          r"(?![\w-])")
_RANGE_BEFORE = re.compile(r"(?<![\w.,\-−])" + _AMOUNT + r"\s*(?:–|—|-|to)\s*$")
_YEAR = re.compile(r"(?<!\d)(?:1\d{3}|20\d{2})(?!\d)")
_CHANGE = re.compile(r"\bfrom\s+$", re.I)  # "rose from 5 to 10": a change, not a range


def another_year(text: str, question: str) -> bool:
    """True when ``text`` names a year and the question names others only: "the 1996 Parental Leave Directive" is
    not the one "created in 1994"."""
    asked = set(_YEAR.findall(question))
    return bool(asked) and bool(set(_YEAR.findall(text)) - asked)


def whole_range(sentence: str, start: int, end: int) -> tuple[int, int]:
    """``start``/``end`` widened to the range a count or an amount is one end of: "100–150" (species), "30 to
    50 thousand", "20 to 1", not "1185–1226" (two years, each a date of its own), nor "from 5 to 10" (where
    it went, not a range)."""
    span = sentence[start:end]
    if not span or _YEAR.search(span):
        return start, end
    if span[-1].isdigit() or span[-1] == "%":
        m = _RANGE_AFTER.match(sentence, end)
        if m and not _YEAR.search(m.group()) and not _CHANGE.search(sentence[:start]):
            end = m.end()
    if span[0].isdigit() or span[0] in "$£€":
        m = _RANGE_BEFORE.search(sentence[:start])
        if m and not _YEAR.search(m.group()) and not _CHANGE.search(sentence[:m.start()]):
            start = m.start()
    return start, end


# "What was the final score …?", "By what score did Scotland beat Italy?": a score is written "18-10"
# (the noun, not the verb: "What did Messi score against Chelsea?" asks for goals)
_ASKS_SCORE = re.compile(r"(?:\b(?:by|with|at)\s+what\s+score\b|\bwhat\s+(?:is|was|were|are)\s+(?:the\s+|its\s+|their\s+)?"
                         r"(?:[\w-]+\s+)?score\b|\bwhat\s+score\s+(?:did|was|is|were)\b)"
                         r"(?!\s+(?:of|for)\s+(?:the\s+)?(?:film|movie|show|series|play|opera|ballet|musical)\b)", re.I)
_SCORE = re.compile(r"(?<![\w–-])(?<!\d[.,])\d{1,3}\s*[-–]\s*\d{1,3}(?![\w%–-]|[.,]\d)")


def asks_score(question: str) -> bool:
    """True for a question that asks a game's score: "What was the final score of the AFC Championship Game?",
    "By what score did Scotland beat Italy?" (not "How many points did they score?")."""
    return bool(_ASKS_SCORE.search(question)) and not re.search(r"\bhow\s+many\b", question, re.I)


def has_score(sentence: str) -> bool:
    """True when ``sentence`` writes a score as news does ("an 18-10 win", "23–16")."""
    return bool(_SCORE.search(sentence))


def score_runs(sentence: str) -> list[tuple[int, int]]:
    """Where ``sentence`` writes a score, each set of a tennis match's together: "18-10", "2-6 6-3 6-0",
    "6-4, 7-5"."""
    runs: list[tuple[int, int]] = []
    for m in _SCORE.finditer(sentence):
        if runs and re.fullmatch(r"[\s,]*", sentence[runs[-1][1]:m.start()]):
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((m.start(), m.end()))
    return runs


# a score on the way, not the match's: "led 6-3 at the break", "a quick 3-0 lead", "were level at 10-10"
_INTERIM_BEFORE = re.compile(r"\b(?:led|leads?|leading|trail(?:ed|ing|s)?|level)\s+(?:at\s+|by\s+)?$", re.I)
_INTERIM_AFTER = re.compile(r"\s*(?:at\s+(?:the\s+)?(?:break|interval|half[- ]?time)|lead|advantage)\b", re.I)


def interim_score(sentence: str, start: int, end: int) -> bool:
    """True when the score ``sentence[start:end]`` is one on the way ("led 6-3 at the break"), not the result."""
    return bool(_INTERIM_BEFORE.search(sentence[:start]) or _INTERIM_AFTER.match(sentence, end))


def is_score(sentence: str, start: int, end: int) -> bool:
    """True when ``sentence[start:end]`` is a whole score: "18-10", "2-6 6-3 6-0", not "18" nor "6-3" of it."""
    return (start, end) in score_runs(sentence)


def in_score(sentence: str, start: int, end: int) -> bool:
    """True when ``sentence[start:end]`` is (part of) a score as news writes it: "18" or "18-10" of "a much-needed
    18-10 victory", "23–16", "2-6 6-3 6-0"."""
    return any(a <= start and end <= b for a, b in score_runs(sentence))


_NUMBER_WORDS = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "both", "several", "some"}


def asks_for_several(question_doc) -> bool:
    """True when the question asks for more than one thing: "Who were two of Kublai's advisers?", "What are
    some large pharmacy management companies?", "Which organizations …?", "What were the names of Tesla's
    partners?", "Who were …?"."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return False
    wh = _asking_wh(question_doc)
    if wh is None or wh.lower_ in ("when", "where", "why", "how"):
        return False
    def asked(noun) -> bool:  # the thing the question asks for: what the wh-word qualifies, or what it is
        return noun == wh.head or (noun.dep_ in ("nsubj", "nsubjpass", "attr", "dobj") and noun.head.dep_ == "ROOT")

    for t in question_doc:
        if t.lower_ == "names" and t.i + 1 < len(question_doc) and question_doc[t.i + 1].lower_ == "of":
            return True
        # "two of Kublai's advisers", "two anti-inflammatory molecules", not "the eight areas that make up …"
        if t.lower_ in _NUMBER_WORDS and (question_doc[t.i + 1:t.i + 2].text.lower() == "of" and asked(t)
                                          or (t.head.tag_ in ("NNS", "NNPS") and t.head.i > t.i and asked(t.head))):
            return True
    if (wh.dep_ == "det" and wh.head.tag_ in ("NNS", "NNPS") and wh.head.i > wh.i
            and not any(t.pos_ in ("VERB", "AUX") for t in question_doc[wh.i + 1:wh.head.i])):
        return True  # "which organizations", "what tribes"; not a misparsed "What are ctenophores used for?"
    after = question_doc[wh.i + 1:wh.i + 2]
    if wh.lower_ in ("what", "which") and len(after) and after[0].tag_ in ("NNS", "NNPS"):
        return True  # "During which years was …?", which the parser may read with "which" on its own
    root = wh.head if wh.dep_ in ("nsubj", "attr") else None
    return root is not None and root.dep_ == "ROOT" and root.lower_ in ("are", "were")


_PHRASE_DEPS = {"compound", "flat", "amod", "det", "nummod", "poss", "case", "nmod", "quantmod"}


def _phrase(tok) -> tuple[int, int]:
    """The token indices of the name or noun phrase ``tok`` heads, without its clauses, conjuncts or
    prepositional phrases: "the Maastricht Treaty 1992", "Benjamin Vail"."""
    start = end = tok.i
    for c in reversed(list(tok.lefts)):
        if c.dep_ not in _PHRASE_DEPS or c.right_edge.i != start - 1:
            break
        start = c.left_edge.i
    for c in tok.rights:  # "a pair of tentacles": "of" belongs to the item
        if (c.dep_ not in ("compound", "flat", "nummod") and not (c.dep_ == "prep" and c.lower_ == "of")
                or c.left_edge.i != end + 1):
            break
        end = c.right_edge.i
    return start, end


def coordination(doc, start: int, end: int) -> tuple[int, int] | None:
    """The character offsets of the list the span ``doc.text[start:end]`` is an item of ("Robert Lane and
    Benjamin Vail" for "Robert Lane"): names or nouns joined by commas, "and", "or" or "&", nothing else
    between them. None when the span is no such item."""
    span = parsed_span(doc, start, end)
    if span is None:
        return None
    root = span.root
    items = sorted([root, *root.conjuncts], key=lambda t: t.i)
    if len(items) < 2 or any(t.pos_ not in ("NOUN", "PROPN", "NUM") for t in items):
        return None
    first, last = _phrase(items[0]), _phrase(items[-1])
    a, b = min(first[0], span.start), max(last[1], span.end - 1)
    inside = set()
    for t in items:
        lo, hi = _phrase(t)
        inside.update(range(lo, hi + 1))
    for t in doc[a:b + 1]:
        if t.i not in inside and not (t.dep_ in ("cc", "punct") and t.lower_ in (",", "and", "or", "&")):
            return None  # a clause or a phrase between the items: not a plain list
    if len(words(doc[a:b + 1].text)) > 2 * MAX_SPAN_WORDS:
        return None
    return doc[a].idx, doc[b].idx + len(doc[b])


# what a number can name: "which year", "what route" (99), "what yard line" (24), "what jersey number"
_NUMBERED = {stem(w) for w in """year decade century date day month time hour minute age number amount total size estimate
count figure score rate ratio percentage percent population price cost value temperature speed distance height weight
length depth width line route highway road interstate channel page chapter version model grade level rank ranking
place position seat platform flight frequency voltage capacity dose share sum efficiency output yield power pressure
energy mass volume area density range margin majority turnout growth inflation unemployment income salary wage fee
budget debt deficit loss profit revenue sales reading fine""".split()}
_BARE_NUMBER = re.compile(r"[$£€]?\d[\d,.]*%?(?:\s*(?:–|—|-|to)\s*\d[\d,.]*%?)?")


def asks_no_number(question_doc) -> bool:
    """True when a bare number cannot answer the question: a reason ("Why did Harvard end …?" is not "2007"),
    a thing named by a noun no number names ("What proclamation …?", "Which battle …?", "What kind of …?",
    "What was the main idea of …?"), what did something ("What prompted …?"). "Which year …?", "What route
    …?" (99), "What is a turbine's efficiency?" (63%) may be."""
    if question_doc is None or not getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        return False
    wh = _asking_wh(question_doc)
    if wh is None:
        return False
    if wh.lower_ == "why":
        return True
    if wh.lower_ in ("what", "which") and wh.dep_ == "det" and wh.head.i > wh.i and wh.head.pos_ in ("NOUN", "PROPN"):
        return stem(wh.head.lower_) not in _NUMBERED
    if wh.lower_ == "what" and wh.dep_ == "nsubj" and wh.head.pos_ == "VERB":
        return True  # "What prompted Shen Kuo to believe …?": a cause, not "1031–1095"
    if wh.lower_ == "what" and wh.dep_ == "attr" and wh.head.lower_ in ("is", "was", "are", "were"):
        # "What was the main idea of Hutton's paper?" is not "1795"; "What is its efficiency?" may be "63%"
        subject = next((c for c in wh.head.children if c.dep_ == "nsubj"), None)
        return subject is not None and subject.pos_ == "NOUN" and stem(subject.lower_) not in _NUMBERED
    return False


def bare_number(text: str) -> bool:
    """A number with nothing it counts or names: "1795", "1031–1095", "3.07" (not "State Route 99", "24 points")."""
    return _BARE_NUMBER.fullmatch(text.strip()) is not None
