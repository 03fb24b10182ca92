"""A country's other names: a question's "Britain" is the passage's "UK", "United Kingdom" or "British".

``rag.text`` finds a country's people by rule ("Estonia" / "Estonian"), which cannot know "Britain" / "British",
"Netherlands" / "Dutch" / "Holland" or "United States" / "American" / "USA". The ``countryinfo`` package
(offline, MIT) gives each country's name, its other names in English and its people's name; news also writes
"Britain", "America", "UK" and "US", which it lists only in longer forms or as codes, so those are added here.
A two-letter code is no name ("IT", "IN", "NO" are words), a three-letter one ("USA", "UAE", "GBR") only in
capitals. A form is matched as written, so "Turkey" is never the bird, nor "Chad" a lower-case word.
"""

from __future__ import annotations

import functools
import logging
import re

log = logging.getLogger(__name__)

# what news calls a country that countryinfo lists only in a longer form or as a two-letter code
NEWS_NAMES = {"United Kingdom": ("Britain", "UK"), "United States": ("America", "US")}
# continents and regions, and their people: a question's "Asian tsunami" is the passage's "southern Asia"
REGIONS = [("Asia", "Asian"), ("Europe", "European"), ("Africa", "African"), ("Antarctica", "Antarctic"),
           ("Latin America", "Latin American"), ("South America", "South American"),
           ("Middle East", "Middle Eastern"), ("Scandinavia", "Scandinavian"), ("Balkans", "Balkan"),
           ("Oceania", "Oceanian")]


@functools.cache
def _groups() -> dict[str, frozenset[str]]:
    """Each form's lower-cased text → every form of the country it names; a form several countries share
    ("Congo", "American", the Northern Mariana Islands' people too) names the most populous."""
    try:
        from countryinfo import all_countries
    except ImportError as e:  # an environment not installed again since: the rule-based forms only
        log.warning("countryinfo is not installed (%s); a country's other names are not matched", e)
        return {f.lower(): frozenset(forms) for forms in REGIONS for f in forms}
    out: dict[str, tuple[int, frozenset[str]]] = {}
    for country in all_countries():
        try:
            name, other, people = country.name(), country.alt_spellings() or [], country.demonym()
            population = int(country.population() or 0)
        except (KeyError, AttributeError, TypeError, ValueError):
            continue
        forms = {name, *NEWS_NAMES.get(name, ()), *([people] if people else [])}
        forms |= {a for a in other if "," not in a and (not a.isupper() or len(a) == 3)
                  and any(c.isalpha() for c in a)}
        group = frozenset(f.strip() for f in forms if f and f.strip())
        for f in group:
            if f.lower() not in out or out[f.lower()][0] < population:
                out[f.lower()] = (population, group)
    groups = {k: group for k, (_, group) in out.items()}
    for forms in REGIONS:
        for f in forms:
            groups.setdefault(f.lower(), frozenset(forms))
    return groups


def country_forms(name: str) -> frozenset[str]:
    """Every name of the country (or countries) ``name`` names, itself included, as written: "britain" →
    {"United Kingdom", "UK", "Britain", "Great Britain", "British", "GBR", …}; empty for any other name."""
    key = re.sub(r"['’]s?$", "", name.strip()).lower()
    groups = _groups()
    return groups.get(key) or groups.get(key[:-1] if key.endswith("s") else "", frozenset())  # "Americans"


def mentions(text: str, form: str) -> bool:
    """``text`` names the country by ``form`` as written (a people's name also in the plural: "Americans")."""
    return re.search(rf"(?<![\w-]){re.escape(form)}(?:e?s)?(?![\w-])", text) is not None
