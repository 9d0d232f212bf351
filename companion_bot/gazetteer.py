"""Offline gazetteer of neighbourhoods: Paris, Brussels and Mons areas.

Attendees say where they head after the event as free text ("le 11e", "Oberkampff", "st denis")
or as a Telegram location pin. This module turns either into a :class:`Place` from the packaged
``data/places.json`` (built by ``scripts/build_gazetteer.py`` from GeoNames), without any network
access, database or Telegram dependency.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from geopy.distance import great_circle

__all__ = ["Gazetteer", "LookupResult", "Place", "normalise"]

DATA_FILE = "data/places.json"
PLACE_KINDS = ("arrondissement", "commune", "quarter")

# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

# Longer inputs are messages, not place names: the longest alias is about 45 characters, an
# organizer's zone name at most 64.
_MAX_INPUT_CHARS = 200
_MAX_KEY_CHARS = 80

_SPECIAL_LETTERS = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "&": " et "})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_TOKEN_EXPANSIONS = {"st": "saint", "ste": "sainte", "sts": "saints"}

# Words people put around a place name ("vers le 11e", "à Montreuil", "quartier Oberkampf").
# They are dropped from both the index and the input, so "La Courneuve" and "Courneuve" agree.
_LEADING_NOISE = frozenset(
    "a au aux en dans vers chez pres cote direction quartier secteur le la les l de du des d "
    "paris arrondissement arr to the near around".split()
)
# Trailing noise includes the Île-de-France département numbers: "Saint-Denis 93".
_TRAILING_NOISE = frozenset(
    "arrondissement arrondissements arr arrt arrdt ardt paris de du d belgique belgie belgium "
    "75 77 78 91 92 93 94 95".split()
)

_ROMAN_NUMERALS = {
    "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
    "xi": 11, "xii": 12, "xiii": 13, "xiv": 14, "xv": 15, "xvi": 16, "xvii": 17, "xviii": 18,
    "xix": 19, "xx": 20,
}  # fmt: skip
_ORDINAL_WORDS = {
    "premier": 1, "premiere": 1, "deuxieme": 2, "second": 2, "seconde": 2, "troisieme": 3,
    "quatrieme": 4, "cinquieme": 5, "sixieme": 6, "septieme": 7, "huitieme": 8, "neuvieme": 9,
    "dixieme": 10, "onzieme": 11, "douzieme": 12, "treizieme": 13, "quatorzieme": 14,
    "quinzieme": 15, "seizieme": 16, "dixseptieme": 17, "dixhuitieme": 18, "dixneuvieme": 19,
    "vingtieme": 20,
}  # fmt: skip
_ORDINAL_SUFFIX = r"(?:e|er|ere|re|eme|ieme|em|me|st|nd|rd|th)"
_NUMBER_ORDINAL = re.compile(rf"0?(\d{{1,2}}){_ORDINAL_SUFFIX}?")
_ROMAN_ORDINAL = re.compile(
    "({}){}".format("|".join(sorted(_ROMAN_NUMERALS, key=len, reverse=True)), _ORDINAL_SUFFIX)
)
_PARIS_POSTCODE = re.compile(r"75(?:0(\d\d)|(116))")


def _arrondissement_number(compact: str) -> int | None:
    """The Paris arrondissement a spaceless token means ("11eme", "xie", "onzieme", "75011")."""
    number: int | None = None
    if match := _NUMBER_ORDINAL.fullmatch(compact):
        number = int(match.group(1))
    elif match := _ROMAN_ORDINAL.fullmatch(compact):
        number = _ROMAN_NUMERALS[match.group(1)]
    elif match := _PARIS_POSTCODE.fullmatch(compact):
        number = int(match.group(1) or match.group(2)) % 100
    else:
        number = _ORDINAL_WORDS.get(compact)
    return number if number is not None and 1 <= number <= 20 else None


def normalise(text: str) -> str:
    """Reduce a place name or user input to its lookup key.

    Case, accents, punctuation, "st"/"ste", surrounding filler words and every spelling of a
    Paris arrondissement ("XIème", "11 eme", "75011", "onzième") are folded, so that all the
    ways of writing one name give one key. Returns "" when nothing usable is left.
    """
    decomposed = unicodedata.normalize("NFKD", text[:_MAX_INPUT_CHARS].casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = folded.translate(_SPECIAL_LETTERS)  # what is still not ASCII becomes a separator
    tokens = [_TOKEN_EXPANSIONS.get(token, token) for token in _NOT_ALNUM.sub(" ", folded).split()]
    while len(tokens) > 1 and tokens[-1] in _TRAILING_NOISE:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in _LEADING_NOISE:
        tokens.pop(0)
    if (number := _arrondissement_number("".join(tokens))) is not None:
        return f"{number}e"
    return " ".join(tokens)


# Names that cover a whole region: too vague to group people by direction home.
_TOO_VAGUE = frozenset(
    normalise(name)
    for name in ("Paris", "Île-de-France", "IDF", "banlieue", "région parisienne", "Belgique")
)

# Short forms derived at load time ("Issy" for Issy-les-Moulineaux, "Noisy" for both Noisy-le-Sec
# and Noisy-le-Grand). They rank below real names: "Saint-Ouen" is Saint-Ouen, not
# Saint-Ouen-l'Aumône.
_NAME_CONNECTORS = frozenset(
    "sur sous les le la lez en aux au de du des d l et ten op aan bij".split()
)
_SAINT_WORDS = frozenset({"saint", "sainte", "sint", "saints"})
_TOO_GENERIC_SHORT_FORMS = frozenset(
    "grand grands petit petite porte place gare parc canal butte cite ile mont pont bois val "
    "ville villa champs pere quartier neder".split()
)


def _short_form(key: str) -> str | None:
    tokens = key.split()
    if len(tokens) < 2:
        return None
    cut = next((i for i, token in enumerate(tokens) if i and token in _NAME_CONNECTORS), None)
    if cut is None:
        cut = 2 if tokens[0] in _SAINT_WORDS else 1
    short = " ".join(tokens[:cut])
    if short == key or len(short) < 4 or short in _TOO_GENERIC_SHORT_FORMS:
        return None
    if tokens[0] in _SAINT_WORDS and cut < 2:
        return None
    return short


_NUMBER_LIKE = re.compile(r"[0-9][0-9a-z ]*")


def _trigrams(key: str) -> set[str]:
    padded = f"  {key} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


# ---------------------------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A neighbourhood people can head to: an arrondissement, a commune or a named quarter."""

    id: str
    name: str
    kind: str
    city: str
    country: str
    lat: float
    lon: float
    population: int
    parent: str | None
    aliases: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Place:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            kind=str(data["kind"]),
            city=str(data["city"]),
            country=str(data["country"]),
            lat=float(data["lat"]),
            lon=float(data["lon"]),
            population=int(data.get("population") or 0),
            parent=data.get("parent") or None,
            aliases=tuple(data.get("aliases") or ()),
        )

    @property
    def point(self) -> tuple[float, float]:
        return (self.lat, self.lon)


@dataclass(frozen=True)
class LookupResult:
    """What a free-text lookup found.

    ``match`` is set when the text identifies one place with confidence. ``suggestions`` holds
    up to three other candidates, best first: the alternatives when the text was ambiguous, or
    the "did you mean" choices when nothing matched with confidence. Both empty: nothing close.
    ``exact`` tells a name spelt right from a typo, to rank the answers of two gazetteers.
    """

    match: Place | None = None
    suggestions: tuple[Place, ...] = ()
    # The text is one of the names (or aliases) as written, give or take case, accents and
    # punctuation, rather than close to one.
    exact: bool = field(default=False, compare=False)

    @property
    def is_empty(self) -> bool:
        return self.match is None and not self.suggestions


_NOTHING = LookupResult()

# ---------------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------------

_MAX_SUGGESTIONS = 3
_FUZZY_MIN_KEY_CHARS = 3
_FUZZY_CANDIDATES = 40
_FUZZY_MATCH_SCORE = 0.85  # "Belville" -> "belleville" is 0.89, "Ixeles" -> "ixelles" 0.92
_FUZZY_MATCH_MARGIN = 0.05  # ... and clearly ahead of the next different place
_FUZZY_SUGGEST_SCORE = 0.7
# With several places of the same name, the one nearest the venue wins only when clearly nearer.
_AMBIGUITY_DISTANCE_RATIO = 2.0
_AMBIGUITY_DISTANCE_SLACK_KM = 1.0
_EARTH_RADIUS_KM = 6371.0088


def _approx_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: cheap, and within a fraction of a percent at city scale."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return _EARTH_RADIUS_KM * math.hypot(x, y)


def _valid_point(point: object) -> tuple[float, float] | None:
    try:
        lat, lon = (float(value) for value in point)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
        return (lat, lon)
    return None


class Gazetteer:
    """Places with a precomputed index for tolerant name lookup and pin snapping."""

    def __init__(
        self,
        places: Iterable[Place],
        attribution: str = "",
        too_vague: frozenset[str] = _TOO_VAGUE,
    ) -> None:
        """``too_vague``: normalised names never looked up (a whole region); an event's zones
        pass none: there "Paris" may be the coach back to Paris."""
        self._places = tuple(places)
        self.attribution = attribution
        self._too_vague = too_vague
        self._by_id = {place.id: place for place in self._places}
        if len(self._by_id) != len(self._places):
            raise ValueError("duplicate place ids")
        self._exact = self._build_exact_index(self._places)
        self._keys = tuple(self._exact)
        self._key_trigram_counts = tuple(len(_trigrams(key)) for key in self._keys)
        postings: dict[str, list[int]] = defaultdict(list)
        for index, key in enumerate(self._keys):
            for trigram in _trigrams(key):
                postings[trigram].append(index)
        self._trigram_postings = dict(postings)

    @staticmethod
    def _build_exact_index(places: tuple[Place, ...]) -> dict[str, tuple[Place, ...]]:
        # key -> {place id: rank}; rank 0 for real names and aliases, 1 for derived short forms.
        ranked: dict[str, dict[str, int]] = defaultdict(dict)
        by_id = {place.id: place for place in places}
        for place in places:
            keys = {normalise(name) for name in (place.name, *place.aliases)} - {""}
            for key in keys:
                ranked[key][place.id] = 0
            if place.kind == "arrondissement":
                continue
            for key in keys:
                short = _short_form(key)
                if short and place.id not in ranked[short]:
                    ranked[short][place.id] = 1
        index: dict[str, tuple[Place, ...]] = {}
        for key, ranks in ranked.items():
            best = min(ranks.values())
            index[key] = tuple(by_id[pid] for pid, rank in sorted(ranks.items()) if rank == best)
        return index

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Gazetteer:
        places = [Place.from_dict(item) for item in document["places"]]
        return cls(places, attribution=str(document.get("attribution", "")))

    @classmethod
    def from_file(cls, path: str | Path) -> Gazetteer:
        with open(path, encoding="utf-8") as stream:
            return cls.from_document(json.load(stream))

    @classmethod
    def default(cls) -> Gazetteer:
        """The packaged gazetteer, loaded once per process."""
        return _default_gazetteer()

    # -- access ----------------------------------------------------------------------------

    @property
    def places(self) -> tuple[Place, ...]:
        return self._places

    def get(self, place_id: str) -> Place | None:
        return self._by_id.get(place_id)

    def __len__(self) -> int:
        return len(self._places)

    # -- text lookup -----------------------------------------------------------------------

    def lookup(self, text: str, near: tuple[float, float] | None = None) -> LookupResult:
        """Find the place a person means by ``text``; ``near`` is the venue, for homonyms."""
        if not isinstance(text, str):
            return _NOTHING
        key = normalise(text)
        near = _valid_point(near)
        if not key or len(key) > _MAX_KEY_CHARS or key in self._too_vague:
            return _NOTHING
        if hits := self._exact.get(key):
            return replace(self._resolve_homonyms(hits, near), exact=True)
        return self._fuzzy_lookup(key, near)

    def _resolve_homonyms(
        self, places: tuple[Place, ...], near: tuple[float, float] | None
    ) -> LookupResult:
        if len(places) == 1:
            return LookupResult(match=places[0])
        if near is None:
            ordered = sorted(places, key=lambda place: (-place.population, place.name, place.id))
            return LookupResult(suggestions=tuple(ordered[:_MAX_SUGGESTIONS]))
        by_distance = sorted(
            ((_approx_km(*near, place.lat, place.lon), place) for place in places),
            key=lambda item: (item[0], item[1].id),
        )
        (nearest_km, nearest), (runner_up_km, _) = by_distance[0], by_distance[1]
        others = tuple(place for _, place in by_distance)
        if runner_up_km >= nearest_km * _AMBIGUITY_DISTANCE_RATIO + _AMBIGUITY_DISTANCE_SLACK_KM:
            return LookupResult(match=nearest, suggestions=others[1 : 1 + _MAX_SUGGESTIONS])
        return LookupResult(suggestions=others[:_MAX_SUGGESTIONS])

    def _fuzzy_lookup(self, key: str, near: tuple[float, float] | None) -> LookupResult:
        # Numbers are not misspelt names: "21e" must not suggest the 2e and the 1er.
        if len(key) < _FUZZY_MIN_KEY_CHARS or _NUMBER_LIKE.fullmatch(key):
            return _NOTHING
        query_trigrams = _trigrams(key)
        shared: Counter[int] = Counter()
        for trigram in query_trigrams:
            shared.update(self._trigram_postings.get(trigram, ()))
        if not shared:
            return _NOTHING
        # Dice coefficient on trigrams picks a short list; difflib then ranks it properly.
        dice = {
            index: 2 * count / (len(query_trigrams) + self._key_trigram_counts[index])
            for index, count in shared.items()
        }
        shortlist = sorted(dice, key=lambda index: (-dice[index], index))[:_FUZZY_CANDIDATES]
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(key)
        scored: list[tuple[float, str]] = []
        for index in shortlist:
            matcher.set_seq1(self._keys[index])
            if matcher.real_quick_ratio() >= _FUZZY_SUGGEST_SCORE:
                if matcher.quick_ratio() >= _FUZZY_SUGGEST_SCORE:
                    score = matcher.ratio()
                    if score >= _FUZZY_SUGGEST_SCORE:
                        scored.append((score, self._keys[index]))
        if not scored:
            return _NOTHING

        def closeness(place: Place) -> float:
            return 0.0 if near is None else _approx_km(*near, place.lat, place.lon)

        scored.sort(key=lambda item: (-item[0], item[1]))
        best_score, best_key = scored[0]
        best_places = self._exact[best_key]
        best_ids = {place.id for place in best_places}
        runner_up_score = next(
            (
                score
                for score, other_key in scored[1:]
                if any(place.id not in best_ids for place in self._exact[other_key])
            ),
            0.0,
        )
        if best_score >= _FUZZY_MATCH_SCORE and best_score - runner_up_score >= _FUZZY_MATCH_MARGIN:
            return self._resolve_homonyms(best_places, near)

        best_score_by_place: dict[str, tuple[float, Place]] = {}
        for score, candidate_key in scored:
            for place in self._exact[candidate_key]:
                if place.id not in best_score_by_place:
                    best_score_by_place[place.id] = (score, place)
        ordered = sorted(
            best_score_by_place.values(),
            key=lambda item: (
                -round(item[0], 3),
                closeness(item[1]),
                -item[1].population,
                item[1].id,
            ),
        )
        return LookupResult(suggestions=tuple(place for _, place in ordered[:_MAX_SUGGESTIONS]))

    # -- geography -------------------------------------------------------------------------

    def nearest(self, lat: float, lon: float, max_km: float = 15.0) -> Place | None:
        """Snap a location pin to the closest place, or None when none is within ``max_km``."""
        point = _valid_point((lat, lon))
        if point is None or not self._places:
            return None
        lat, lon = point
        approx = [(_approx_km(lat, lon, place.lat, place.lon), place) for place in self._places]
        closest_approx = min(distance for distance, _ in approx)
        if closest_approx > max_km * 1.05 + 1.0:  # the approximation is never off by that much
            return None
        # Settle near-ties with the exact great-circle distance.
        contenders = [place for distance, place in approx if distance <= closest_approx + 0.5]
        distance_km, place = min(
            ((self.distance_km_to(place, lat, lon), place) for place in contenders),
            key=lambda item: (item[0], item[1].id),
        )
        return place if distance_km <= max_km else None

    @staticmethod
    def distance_km(a: Place, b: Place) -> float:
        return float(great_circle(a.point, b.point).km)

    @staticmethod
    def distance_km_to(place: Place, lat: float, lon: float) -> float:
        return float(great_circle(place.point, (lat, lon)).km)


@cache
def _default_gazetteer() -> Gazetteer:
    data = resources.files(__package__ or "companion_bot").joinpath(DATA_FILE)
    return Gazetteer.from_document(json.loads(data.read_text(encoding="utf-8")))
