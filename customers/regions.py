"""Where a person lives, as an ISO 3166-2 subdivision: "Texas", "tx", "Tex." and a Texas ZIP
code all name US-TX, and a threshold counts them together.

The import stores the subdivision's own code (the part after the country: "TX") in
`Customer.region`, which is what the regimes name; a value that cannot be placed is kept
as written and listed for a person (`incidents.selectors.scope_unplaced_regions`).
"""

import unicodedata
from functools import lru_cache

import pycountry

# Traditional (GPO/AP) abbreviations of the US states, as CRMs fill them in by hand.
_US_ABBREVIATIONS = {
    "ala": "AL",
    "ariz": "AZ",
    "ark": "AR",
    "cal": "CA",
    "calif": "CA",
    "colo": "CO",
    "conn": "CT",
    "del": "DE",
    "d.c": "DC",
    "fla": "FL",
    "ga": "GA",
    "ill": "IL",
    "ind": "IN",
    "kan": "KS",
    "kans": "KS",
    "ky": "KY",
    "la": "LA",
    "md": "MD",
    "mass": "MA",
    "mich": "MI",
    "minn": "MN",
    "miss": "MS",
    "mo": "MO",
    "mont": "MT",
    "neb": "NE",
    "nebr": "NE",
    "nev": "NV",
    "n.h": "NH",
    "n.j": "NJ",
    "n.m": "NM",
    "n.mex": "NM",
    "n.y": "NY",
    "n.c": "NC",
    "n.d": "ND",
    "n.dak": "ND",
    "okla": "OK",
    "ore": "OR",
    "oreg": "OR",
    "pa": "PA",
    "penn": "PA",
    "penna": "PA",
    "p.r": "PR",
    "r.i": "RI",
    "s.c": "SC",
    "s.d": "SD",
    "s.dak": "SD",
    "tenn": "TN",
    "tex": "TX",
    "vt": "VT",
    "va": "VA",
    "v.i": "VI",
    "wash": "WA",
    "w.va": "WV",
    "wis": "WI",
    "wisc": "WI",
    "wyo": "WY",
    "washington d.c": "DC",
    "washington dc": "DC",
    "washington, d.c": "DC",
    "virgin islands": "VI",
    "us virgin islands": "VI",
    "u.s. virgin islands": "VI",
}

# The first three digits of a US ZIP code and the state they serve, by inclusive range.
# Prefixes shared by several states or territories (military mail 090-099, 340, 962-966;
# 969 for Guam and the Northern Marianas) are left out: they place nobody.
_ZIP3_RANGES = [
    (5, 5, "NY"),
    (6, 7, "PR"),
    (8, 8, "VI"),
    (9, 9, "PR"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 349, "FL"),
    (350, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 528, "IA"),
    (530, 549, "WI"),
    (550, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 629, "IL"),
    (630, 658, "MO"),
    (660, 679, "KS"),
    (680, 693, "NE"),
    (700, 715, "LA"),
    (716, 729, "AR"),
    (730, 732, "OK"),
    (733, 733, "TX"),
    (734, 749, "OK"),
    (750, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 865, "AZ"),
    (870, 884, "NM"),
    (885, 885, "TX"),
    (889, 898, "NV"),
    (900, 961, "CA"),
    (967, 968, "HI"),
    (970, 979, "OR"),
    (980, 994, "WA"),
    (995, 999, "AK"),
]
_ZIP3 = {prefix: state for low, high, state in _ZIP3_RANGES for prefix in range(low, high + 1)}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(folded.replace("-", " ").split()).rstrip(".")


@lru_cache(maxsize=512)
def _subdivisions(country: str) -> dict[str, str]:
    """Every way of writing a subdivision of `country` we accept -> its own code."""
    table: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or []:
        own = sub.code.split("-", 1)[1]
        table[_key(own)] = own
        table[_key(sub.name)] = own
        # "Virgin Islands, U.S." is also written "U.S. Virgin Islands".
        if ", " in sub.name:
            head, tail = sub.name.split(", ", 1)
            table.setdefault(_key(f"{tail} {head}"), own)
    if country == "US":
        table.update({_key(k): v for k, v in _US_ABBREVIATIONS.items()})
    return table


def zip_state(postal_code: str) -> str:
    """The US state (own code) a ZIP code is in, or "" where its prefix is shared."""
    digits = postal_code.strip()[:5]
    if len(digits) < 5 or not digits.isdigit():
        return ""
    return _ZIP3.get(int(digits[:3]), "")


@lru_cache(maxsize=65536)
def region_normalize(region: str, country: str, postal_code: str = "") -> str:
    """The subdivision's own ISO 3166-2 code ("TX") when the region (or, without one, a US
    ZIP code) places the person; otherwise the region as written."""
    text = region.strip()
    country = country.strip().upper()
    if not country:
        return text
    if not text:
        return zip_state(postal_code) if country == "US" else ""
    return _subdivisions(country).get(_key(text), text)


def region_is_placed(region: str, country: str) -> bool:
    """Whether a stored region is a subdivision code of its country."""
    return bool(region) and region.upper() in set(_subdivisions(country.upper()).values())
