"""Attribution and verification: citations are checked, not taken on trust.

Tiny local models invent figures and skip citations, so the pipeline, not the
model, decides what the answer may say:

- ``best_span`` snaps a short model answer onto the exact words of a passage
  (SQuAD-style minimal span with the best token F1);
- ``unsupported_facts`` lists the numbers and names of a claim that its
  passage does not contain;
- ``attribute_sentences`` walks the model's draft sentence by sentence, keeps
  what a passage supports (citing it), replaces a claim with wrong facts by
  the supporting sentence itself, and drops the rest;
- ``expected_labels`` / ``typed_candidates`` give the answer type a question
  asks for (who → person, how many → number, ...) and the spans of that type.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field

from rag.countries import country_forms, mentions
from rag.text import (
    ASKED_NAME, DATE_LIKE, STOPWORDS, asks_office, content_stems, numbers_in, numbers_in_any_form, squad_normalize,
    stem, word_spans, words,
)


@dataclass(frozen=True)
class Evidence:
    """A candidate supporting sentence: where it is and how well it matches the question."""

    doc_id: str
    title: str
    chunk_id: str
    start: int          # offsets of the sentence in the cleaned article
    end: int
    text: str           # the sentence
    context: str        # the whole chunk it came from
    hit_rank: int
    cosine: float = 0.0
    coverage: float = 0.0
    score: float = 0.0
    vector: object = field(default=None, repr=False, compare=False)  # the sentence's embedding, if kept
    # coverage counting the question's names its chunk gives elsewhere ("the pair" for two named men)
    named_coverage: float | None = None
    # the share of the question's words the sentence itself holds, without its neighbours, title or chunk
    own_coverage: float | None = None


@dataclass(frozen=True)
class Claim:
    text: str           # the words shown in the answer
    evidence: int       # index into the evidence list it is attributed to
    kind: str           # "span" | "sentence" | "quote"


_MARKER = re.compile(r"\s*\[\s*\d+(?:\s*[,;-]\s*\d+)*\s*\]")


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


def _norm_tokens(text: str) -> list[str]:
    """The words of ``text`` as ``best_span`` sees a sentence's: "-25C" is "25" and "c", as in "fell to -25C"."""
    return [t for t in (squad_normalize(w) for w in words(text)) if t]


def best_span(draft: str, sentence: str, slack: int = 3) -> tuple[int, int, float]:
    """The contiguous words of ``sentence`` that best match ``draft`` (char offsets, token F1)."""
    target = Counter(_norm_tokens(draft))
    n_target = sum(target.values())
    spans = word_spans(sentence)
    if not n_target or not spans:
        return 0, 0, 0.0
    toks = [squad_normalize(sentence[a:b]) for a, b in spans]
    best = (0, 0, 0.0)
    for i in range(len(toks)):
        if not toks[i] or toks[i] not in target:
            continue  # a best span starts on a matching word
        window: Counter = Counter()
        for j in range(i, min(len(toks), i + n_target + slack)):
            if toks[j]:
                window[toks[j]] += 1
            same = sum((window & target).values())
            if not same or not toks[j] or toks[j] not in target:
                continue  # ... and ends on one
            length = sum(window.values())
            f1 = 2 * same / (length + n_target)
            if f1 > best[2] + 1e-9:
                best = (spans[i][0], spans[j][1], f1)
    a = best[0]
    if best[2] and sentence[a:a + 1].isdigit() and sentence[a - 1:a] in ("-", "−") and \
            (a == 1 or not sentence[a - 2].isalnum()):
        best = (a - 1, best[1], best[2])  # a number keeps its minus sign: "-25C", not "25C"
    a, b, f1 = best
    if f1 and sentence[b:b + 1] == "." and re.fullmatch(r"(?:\w\.)+\w", sentence[a:b]):
        best = (a, b + 1, f1)  # "U.S." keeps its last full stop
    return best


_NAME = re.compile(r"\b[A-Z][\w’'\-]*(?:\s+[A-Z][\w’'\-]*)*")


# a role's acronym names no one: "Which MP asked the first question?" is answered by "Derby North's Bob Laxton"
ROLE_ACRONYMS = frozenset("mp mps msp msps mep meps mla mlas pm ceo ceos cfo coo cto qc kc".split())


def _name_words(text: str):
    """(run number, word) for each capitalized word, except a sentence's first word, common words and the
    acronyms of roles ("MP", "CEO")."""
    for k, m in enumerate(_NAME.finditer(text)):
        for i, w in enumerate(m.group().split()):
            at = m.start() + (0 if i == 0 else m.group().find(w))
            before = text[:at].rstrip()
            sentence_start = not before or before[-1] in ".!?:\"“[("
            word = re.sub(r"['’]s?$", "", w.lower())
            if w.lower() in STOPWORDS or word in ROLE_ACRONYMS or (sentence_start and i == 0):
                continue
            yield k, word


def names_in(text: str) -> set[str]:
    """Capitalized words, except a sentence's first word and common words."""
    return {w for _, w in _name_words(text)}


_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")  # "U.S." → "US"
_DECADE = re.compile(r"(?<![\w.])(\d{2}|\d{4})['’]?s\b")  # "70's", "1970s"


# a temperature's unit written as a symbol is the unit's name: "565 °C" mentions Celsius
_DEGREES = re.compile(r"°\s?([CFK])\b", re.I)
_DEGREE_NAMES = {"C": "Celsius", "F": "Fahrenheit", "K": "Kelvin"}


def is_acronym_of(word: str, initials: str) -> bool:
    """``word`` (lower case) is the acronym of a name with these initials: "us" for "united states", and with
    one word more, "usa" (of America), "nyc" (New York City); not "ussr"."""
    return word.startswith(initials) and len(word) <= len(initials) + 1


def undot_acronyms(text: str) -> str:
    """Write dotted acronyms as one word: "the U.S. court" → "the US court"."""
    return _DOTTED.sub(lambda m: m.group().replace(".", ""), text)


def name_runs(text: str) -> set[str]:
    """The names a question mentions, one per capitalized run ("graham twigg", "united states")."""
    runs: dict[int, list[str]] = {}
    for k, w in _name_words(undot_acronyms(text)):
        runs.setdefault(k, []).append(w)
    return {" ".join(run) for run in runs.values()}


def _without_article(run: list[str]) -> list[list[str]]:
    """A capitalized run, and without the article that opens a sentence: "The American Automobile Association"
    is the AAA."""
    return [run, run[1:]] if len(run) > 2 and run[0] in ("The", "A", "An") else [run]


def names_missing(names: set[str], text: str) -> list[str]:
    """Names (from ``names_in`` or ``name_runs``) that ``text`` never mentions.

    Lenient on form, strict on substance: compared by stem, "American" matches
    "America" (shared prefix of 5+ letters), a name inside a longer word counts
    ("Atlantic" in "transatlantic"), so does a one-letter typo of a long name
    ("Ghandi"), an acronym matches the initials of a capitalized run ("EU" ~
    "European Union") and a run matches its acronym ("United States" ~ "U.S.",
    or with one letter more, "USA"), a unit matches its symbol ("Celsius" ~ "°C"),
    a hyphenated name needs half of its parts, and a run of several words
    needs its last word (the surname, the head) and its rarest word in
    everyday English (wordfreq), the one that tells it apart: "Graham Twigg"
    ~ "Twigg", "Tesla Electric Light" needs "Tesla" too, "Boris Johnson" is
    not "Boris Yeltsin".
    """
    from wordfreq import zipf_frequency

    text = _DEGREES.sub(lambda m: " " + _DEGREE_NAMES[m.group(1).upper()], undot_acronyms(text))
    stems = {stem(part) for w in words(text) for part in re.sub(r"['’]s?$", "", w).split("-") if part}
    initials = {"".join(w[0] for w in run if w[0].isupper()).lower()
                for m in _NAME.finditer(text) for run in _without_article(m.group().split())}
    acronyms = {w.lower() for w in words(text) if len(w) >= 2 and w.isupper() and w.isalpha()}

    def present(part: str) -> bool:
        st = stem(part)
        if st in stems:
            return True
        if len(st) < 5:
            return False
        if any(x[:5] == st[:5] and (x.startswith(st) or st.startswith(x)) for x in stems if len(x) >= 5):
            return True
        if len(st) < 6:  # shorter names get no looser match: "Chile" is not "child", "Spain" not "spin"
            return False
        return (any(st in x for x in stems if len(x) > len(st))                # "atlantic" in "transatlantic"
                or bool(difflib.get_close_matches(st, stems, n=1, cutoff=0.8)))  # a typo: "Ghandi", "Bedigo"

    def word_present(w: str) -> bool:
        parts = [p for p in w.split("-") if p]
        return not parts or w in initials or sum(present(p) for p in parts) * 2 >= len(parts)

    missing = []
    for n in sorted(names):
        run = n.split()
        if not run or n.replace(" ", "") in initials:
            continue
        if len(run) > 1 and any(is_acronym_of(a, "".join(w[0] for w in run)) for a in acronyms):
            continue
        rarest = min(run, key=lambda w: zipf_frequency(w, "en"))
        if not (word_present(run[-1]) and word_present(rarest)) and not any(
                mentions(text, form) for form in country_forms(n)):  # "Britain" is the "UK", "British"
            missing.append(n)
    return missing


# a word this common is a name only with the others of its name: "Home Office", "White House"
EVERYDAY_ZIPF = 5.0


def everyday_names_missing(names: set[str], text: str) -> list[str]:
    """Names of several everyday words ("home office", "white house", from ``name_runs``; "Department of Culture"
    is two runs there, the lower-case "of" splits it) that ``text``
    never writes as one name, nor as its acronym: "office" and "home" apart are no mention of the Home Office,
    as ``names_missing``'s lenient matching allows. Names with a rarer word ("gordon brown": "Mr Brown" is
    him) are left to that."""
    from wordfreq import zipf_frequency

    text = undot_acronyms(text)
    acronyms = {w.lower() for w in words(text) if len(w) >= 2 and w.isupper() and w.isalpha()}
    missing = []
    for n in sorted(names):
        run = n.split()
        if len(run) < 2 or any(zipf_frequency(w, "en") < EVERYDAY_ZIPF for w in run):
            continue
        # "Department of Culture", "Bank of England", "the Home Office's"
        pattern = r"(?<!\w)" + r"(?:\W+(?:of|the|for|and|on|in)(?!\w))*\W+".join(map(re.escape, run)) + r"(?!\w)"
        if not re.search(pattern, text, re.I) and not any(is_acronym_of(a, "".join(w[0] for w in run)) for a in acronyms):
            missing.append(n)
    return missing


def numbers_missing(question: str, text: str) -> list[str]:
    """Numbers in ``question`` that ``text`` never mentions; "the 70's" matches 1970s, 1975, "4" matches "four"."""
    have = numbers_in_any_form(text) | {m.group(1) for m in _DECADE.finditer(text)}
    decades = {m.group(1) for m in _DECADE.finditer(question)}
    return sorted(n for n in numbers_in(question) - have
                  if not (n in decades and len(n) == 2 and any(len(y) == 4 and y[2] == n[0] for y in have)))


def unsupported_facts(claim: str, passage: str, question: str = "") -> list[str]:
    """Numbers and names in ``claim`` that ``passage`` never mentions.

    A name the claim repeats from the question is looked for as leniently as
    the evidence gate looks for the question's names: the user's "Bedigo" is
    the passage's "Bendigo". Every other name must be there as written.
    """
    p_numbers = numbers_in_any_form(passage)  # the model may write the passage's "two" as 2
    p_words = {w.lower().strip("’'") for w in words(passage)}
    asked = names_in(question)
    missing = [n for n in numbers_in(claim) if n not in p_numbers]
    missing += [w for w in sorted(names_in(claim)) if not all(part in p_words for part in w.split("-"))
                and not (w in asked and not names_missing({w}, passage))]
    return missing


def split_claims(draft: str) -> list[str]:
    from rag.chunking import split_sentences

    draft = draft.strip()
    return [draft[a:b] for a, b in split_sentences(draft)] if draft else []


def _overlap(a: str, b: str) -> float:
    """Share of a's content words found in b."""
    aw = {w.lower() for w in words(a) if w.lower() not in STOPWORDS}
    if not aw:
        return 0.0
    bw = {w.lower() for w in words(b)}
    return len(aw & bw) / len(aw)


_PREAMBLE = re.compile(
    r"^\s*(?:(?:\d{1,2}[.)]\s+(?=\S)|\[\d+\]|passage\s*\d*\s*:|the passage (?:is|says)\b\s*:?|"
    r"(?:the )?answer(?: is)?\b\s*:?|(?:the )?answer to the question is\b\s*:?)\s*)+", re.IGNORECASE)
_CLAUSE_END = re.compile(r",|;|\(|\s[–—-]\s|\b(?:which|who|whose|where|specifically|because|while)\b")
_LINK = re.compile(r"\b(is|was|are|were|by|of|in|on|at|from|to|called|named)\b", re.IGNORECASE)


def answer_phrase(draft: str, question: str, min_share: float = 0.6) -> str:
    """The part of a model draft that answers, without preambles or a restatement of the question.

    Tiny models write "The answer is: 1903" or "The stadium that the teams played in is the StubHub
    Center." The preamble goes, and when the draft opens by restating the question (most of its words
    are the question's) up to a linking word, only what follows it is kept: "the StubHub Center".
    """
    lines = [strip_markers(line) for line in draft.strip().splitlines()]  # markers first would join the lines
    first = next((line for line in lines if line), "")
    if REFUSAL.search(first):
        return ""
    # the first line that still says something once its preamble is gone ("Answer:\n1903")
    text = next((t for t in (_PREAMBLE.sub("", line).strip().strip("\"“”'").strip() for line in lines) if t), "")
    q = content_stems(question)
    if not text or not q:
        return text
    best = None
    clause = _CLAUSE_END.split(text, 1)[0]  # the restatement and its answer come before any aside
    for m in _LINK.finditer(clause):
        head = [w for w in words(text[:m.start()]) if w.lower() not in STOPWORDS]
        if len(head) < 2:
            continue
        share = sum(stem(w) in q for w in head) / len(head)
        rest = clause[m.end():].strip(" ,:;.\"“”")
        new_words = {w.lower() for w in words(rest)} - STOPWORDS - {w.lower() for w in words(question)}
        if share >= min_share and new_words:
            best = rest  # the last such split: "X is played in Y is Z" keeps Z
    return best or text


REFUSAL = re.compile(r"\b(not (in|mentioned|stated|found|provided|given|specified|available)|no (information|mention)|cannot|can't|unknown|"
                     r"does not say|doesn't say|not answer|don't know|do not know)\b", re.IGNORECASE)


def attribute_sentences(draft: str, evidence: list[Evidence], short_words: int = 8,
                        question: str = "") -> tuple[list[Claim], list[str]]:
    """Turn a model draft into verified claims; return (claims, notes on what was removed or replaced)."""
    claims: list[Claim] = []
    notes: list[str] = []
    for raw in split_claims(draft):
        text = strip_markers(raw)
        if not text or REFUSAL.search(text):
            continue
        n_words = len(words(text))
        if n_words <= short_words:  # a short answer phrase: snap it to the passage's own words
            best = max(((i, *best_span(text, ev.text)) for i, ev in enumerate(evidence)),
                       key=lambda t: (t[3], -t[0]), default=None)
            if best and best[3] >= 0.5:
                i, a, b, _ = best
                claims.append(Claim(evidence[i].text[a:b], i, "span"))
            else:
                notes.append(f"removed unsupported answer: {text!r}")
            continue
        scored = sorted(((_overlap(text, ev.text), i) for i, ev in enumerate(evidence)), reverse=True)
        if not scored or scored[0][0] < 0.5:
            notes.append(f"removed claim no passage supports: {text!r}")
            continue
        i = scored[0][1]
        missing = unsupported_facts(text, evidence[i].context, question)
        if missing:
            notes.append(f"replaced claim with unsupported {', '.join(missing)}: {text!r}")
            if all(c.evidence != i or c.kind != "quote" for c in claims):
                claims.append(Claim(evidence[i].text, i, "quote"))
        elif scored[0][0] >= 0.8:
            claims.append(Claim(text, i, "sentence"))
        else:  # a loose paraphrase: keep only the passage's own words that it matches
            a, b, f1 = best_span(text, evidence[i].text)
            if f1 >= 0.5:
                claims.append(Claim(evidence[i].text[a:b], i, "span"))
            else:
                claims.append(Claim(evidence[i].text, i, "quote"))
            notes.append(f"paraphrase replaced by the passage's words: {text!r}")
    return claims, notes


# -- answer types -----------------------------------------------------------------

_TIME_UNITS = r"(seconds|minutes|hours|days|weeks|months|years|decades|centuries|generations)"
_TYPES: list[tuple[re.Pattern, tuple[str, ...]]] = [
    (re.compile(r"\b(what|which) (percentage|percent|proportion|share)\b|\bhow much of\b", re.I), ("PERCENT",)),
    (re.compile(r"\bhow (much|many) (?:[\w-]+ )?(money|dollars|euros|pounds)\b|\bhow much (did|does|do|was|is|were|will)\b.*\b(cost|pay|paid|worth|spend|spent|earn|raise|price|fund|loan|sell|sold|invest)", re.I),
     ("MONEY", "CARDINAL", "QUANTITY")),
    (re.compile(r"\bhow many " + _TIME_UNITS, re.I), ("DATE", "TIME", "CARDINAL", "QUANTITY")),
    (re.compile(r"\bhow many\b", re.I), ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")),
    (re.compile(r"\bhow much time\b", re.I), ("DATE", "TIME", "QUANTITY", "CARDINAL")),
    # any other "how much" asks for an amount: "How much were CBS fined?" is not "a wardrobe malfunction"
    (re.compile(r"\bhow much\b", re.I), ("MONEY", "QUANTITY", "CARDINAL", "PERCENT")),
    (re.compile(r"\bhow (old|long)\b", re.I), ("DATE", "TIME", "QUANTITY", "CARDINAL")),
    (re.compile(r"\bhow (far|tall|big|large|high|heavy|low|deep|wide|fast|hot|cold)\b", re.I),
     ("QUANTITY", "MONEY", "CARDINAL", "PERCENT")),
    # "What is the maximum fine…", "What growth rate…", "What was the final score…": a measure, not "guilty"
    (re.compile(r"\b(what|which)(?:\s+(?:is|was|are|were))?(?:\s+(?:the|a|an|its|their|his|her))?(?:\s+[\w-]+(?:['’]s)?)?\s+"
                r"(rates?|score|reading|number|amount|total|sum|fine|price|cost|fee|salary|wage|budget|deficit|"
                r"population|value|temperature|speed|distance|height|weight|length|age|size)\b", re.I),
     ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")),
    (re.compile(r"\bwhen\b|\b(?:what|which) (years?|dates?|days?|months?|time|century|centuries|decades?|period)\b",
                re.I),
     ("DATE", "TIME")),
    # "which UK region", "what European country": a word may stand between
    (re.compile(r"\bwhere\b|\b(what|which) (?:[\w-]+ )?(country|city|town|state|region|place|continent|nation)\b", re.I),
     ("GPE", "LOC", "FAC", "ORG")),
    (re.compile(r"^\W*(who|whom|whose)\b|\bwho (is|was|were|are|did|said|led|won)\b", re.I),
     ("PERSON", "ORG", "NORP", "GPE")),
]
_NAMES_OF = (re.compile(r"\bnames of\b", re.I), ("PERSON", "ORG", "NORP", "GPE"))
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)


# a role names no one: "Who is Prime Minister?" asks for a person
TITLES = frozenset("""president president-elect prime minister premier chancellor secretary king queen prince princess
emperor emir sheikh pope chief director mayor governor senator general commander captain coach chairman chairwoman
chair ceo spokesman spokeswoman spokesperson leader head speaker ambassador envoy editor judge""".split())
_PARTICLES = {"von", "van", "der", "den", "de", "da", "di", "du", "la", "le", "al", "bin", "ibn", "el", "dos", "ben"}
_WHO_IS = re.compile(r"^\W*who(?:\s+is|\s+was|['’]s)\s+" + ASKED_NAME + r"\s*[?.!]?\s*$", re.I)


def asks_who_someone_is(question: str) -> str | None:
    """The name in "Who is Steve Witkoff?", "Who's Ursula von der Leyen?", "What position does Rustem Umerov
    hold?", "What is Umerov's job?": such a question asks what the person is ("Trump's special envoy"), not
    for a name. None for any other question, for a role ("Who is Prime
    Minister?", "Who is the winner?"), and for a question typed in one case throughout, which does not say what
    is a name ("who is witkoff", "WHO IS THE WINNER"; the pipeline first cases it as the passages do,
    ``rag.text.truecase``)."""
    m = _WHO_IS.match(question) or asks_office(question)
    if not m or question.islower() or question.isupper():
        return None
    name = m.group(1)
    parts = name.split()
    if not parts[0][0].isupper() or not parts[-1][0].isupper() or {w.lower() for w in parts} & (TITLES | {"the", "a", "an"}):
        return None
    if not all(w[0].isupper() or w.lower() in _PARTICLES for w in parts):
        return None
    return name


_NAME_OF = re.compile(r"^\W*what\s*(?:is|was|['’]s)\s+the\s+(?:full\s+)?name\s+of\s+(?:the\s+|an?\s+)?"
                      r"(?P<whose>[^?!.]+?)(?:\s*,?\s+(?-i:who|that|whom)\s+[^?!.]+)?\s*[?!.]*\s*$", re.I)
# what may follow the noun that names the person: "the leader ennobled by Henry III", "the son of Genghis Khan"
_AFTER_HEAD = re.compile(r"[\w-]+(?:ed|ing)|by|in|at|from|of|to|for|with|on|during|under")


def asks_name_of_person(question: str) -> bool:
    """True for "What is the name of <an office>?": "What is the name of India's finance minister who criticised
    G7 trade policies?" — the holder's name is asked, as "Who is India's finance minister?" asks it; not "What is
    the name of the Norman castle?", nor of a person named by what they do ("the quarterback who was 38 in Super
    Bowl XXXIII", "a teacher in Tibetan Buddhism": "Lama"), which the role's holders would not tell apart."""
    m = _NAME_OF.match(question)
    if not m:
        return False
    ws = re.findall(r"[\w-]+", m.group("whose"))
    # the head noun: the word before the first that qualifies it ("leader" of "the leader ennobled by …",
    # "residence" of "the residence of the prime minister"), else the last ("minister" of "India's finance minister")
    head = next((w for w, after in zip(ws, ws[1:]) if _AFTER_HEAD.fullmatch(after)), ws[-1] if ws else "")
    return head.lower() in TITLES or head.lower().rstrip("s") in TITLES


def expected_labels(question: str) -> tuple[str, ...] | None:
    """spaCy entity labels the answer should carry, most likely first; None when the question does not say."""
    if asks_who_someone_is(question):
        return None  # a description, of no entity type
    if asks_name_of_person(question):
        return ("PERSON", "ORG", "NORP", "GPE")
    # the question's own wh-word decides: "What sea bordered the empire when he died?" asks for no date
    first = _WH.search(question)
    if first and first.group().lower() == "when":  # "When imperialism shapes norms, what is it called?"
        main = re.search(r",\s*(what|which|who|whom|whose|where|how)\b", question[first.end():], re.I)
        if main:
            first = _WH.search(question, first.end() + main.start(1))
    for pattern, labels in _TYPES:
        if any(first is None or first.start() - 4 <= m.start() <= first.start() for m in pattern.finditer(question)):
            return labels
    return _NAMES_OF[1] if _NAMES_OF[0].search(question) else None


def counted_noun(question: str, question_doc=None) -> str | None:
    """The thing a "how many"/"how much" question counts ("prisoners"), if it names one.

    With the question's parse it is the noun "many" qualifies, past its modifiers ("How many Labour MPs and
    peers…" counts MPs, "How many break points…" points); without one, the word after "many"."""
    noun = None
    if question_doc is not None and getattr(question_doc, "has_annotation", lambda _: False)("DEP"):
        for t in question_doc:
            if (t.lower_ in ("many", "much") and t.i > 0 and question_doc[t.i - 1].lower_ == "how"
                    and t.head.i > t.i and t.head.pos_ in ("NOUN", "PROPN")
                    # not past a verb: "How much will the plan cost?" counts nothing
                    and not any(w.pos_ in ("VERB", "AUX") for w in question_doc[t.i + 1:t.head.i])):
                noun = t.head.lower_
                break
    if noun is None:
        m = re.search(r"\bhow\s+(?:many|much)\s+([A-Za-z][\w-]*)(?:\s+([A-Za-z][\w-]*))?", question, re.I)
        noun = m.group(1).lower() if m else None
        if m and (m.group(2) or "").lower() in ("money", "time", "times"):
            return None  # "how much prize money" is said in a currency ("$30,000"), not in prizes
    # "how many times" counts events, said as "twice" or "three times"; "how much money" is said in a
    # currency ("$1m"), "how much time" in a clock's or a calendar's units ("17 seconds", "3:08"): no noun
    # to look for
    return noun if noun and noun not in STOPWORDS | _MODALS | {"times", "money", "time"} else None


# a modal after "how much" is the question's verb, not what it counts: "How much might Liverpool bid?"
_MODALS = frozenset({"might", "may", "must", "shall", "ought"})


def counts_noun(sentence: str, start: int, end: int, noun: str | None, after: int = 3, doc=None) -> bool:
    """True when ``sentence[start:end]`` counts ``noun``: its last word or one of the ``after`` words
    that follow is the noun ("314 prisoners", "in five months"), or, with the sentence's parse ``doc``, the
    noun its number qualifies, past the noun's modifiers ("900,000 military and civilian staff")."""
    if not noun:
        return False
    near = words(sentence[start:end])[-1:] + words(sentence[end:end + 40])[:after]
    if stem(noun) in {stem(w) for w in near}:
        return True
    if doc is None or not getattr(doc, "has_annotation", lambda _: False)("DEP") or doc.text != sentence:
        return False
    return any(t.dep_ == "nummod" and t.head.i > t.i and stem(t.head.lower_) == stem(noun)
               for t in doc if start <= t.idx < end)


_NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})


def typed_candidates(doc, labels) -> list[tuple[int, int, str]]:
    """(start, end, label) spans in a spaCy ``doc`` whose label is in ``labels``; numbers backed by regex."""
    out = [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in labels]
    if "DATE" in labels:  # "as early as 1519", "~11,600 BP": dates the NER took for numbers
        for m in DATE_LIKE.finditer(doc.text):
            if not any(a <= m.start() < b for a, b, _ in out):
                out.append((m.start(), m.end(), "DATE"))
    if labels and labels[0] in ("GPE", "LOC"):  # "Kyiv", read as a person or as nothing (rag.places)
        from rag.places import untagged_places

        out += [(a, b, "GPE") for a, b in untagged_places(doc, [(a, b) for a, b, _ in out])]
    if set(labels) & _NUMERIC:
        taken = [(a, b) for a, b, _ in out]
        for m in re.finditer(r"\d+(?:[.,]\d+)*|\b(?:once|twice|thrice)\b", doc.text, re.I):
            if not any(a <= m.start() < b for a, b in taken):
                out.append((m.start(), m.end(), "CARDINAL"))
    return out
