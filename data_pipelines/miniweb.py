"""Render the fictional world (alignment/world.py) as a small web crawl: gzip WARC files plus the truth.

The corpus stage runs datatrove's FineWeb recipe with its DEFAULT thresholds on this crawl, so the pages
have to pass those filters by looking like real pages, not by being tuned to them:
  - every page is full HTML with the boilerplate Trafilatura must strip (cookie banner, navigation,
    sidebar of other stories, footer with copyright and policy links, a tracking <script>);
  - the article is 150-400 words in 4-10 paragraphs of whole sentences ending in punctuation
    (Gopher wants >= 50 words and stop words, C4 >= 5 sentences, FineWeb >= 12% of lines ending in
    punctuation and no repeated lines);
  - sentences come from several template variants per fact and per page type, mixed with filler built
    from independent parts (weather, town lore, quotes), so that two biographies of different people
    share few word 5-grams (MinHash flags pairs above ~0.72 Jaccard; ours are far below) and no
    paragraph repeats often enough for Trafilatura's segment cache (deduplicate=True drops a >100
    character segment from its 4th sighting on, per process) to eat the main text.

What the crawl holds (shares of all records, with n_entities=120 about 1000 records):
  clean            ~69%  unique English pages: per person a biography, a news item, an interview or
                         profile, and an obituary / announcement / travel note; plus lists (people from
                         a town, members of an organisation, a trade register), event reports and town
                         guides. Every fact of every covered person is stated on >= 2 distinct pages.
                         ~15% of them carry planted PII (emails, public IPv4s, phone numbers).
  non_english      ~10%  German, French and Spanish pages about the same people.
  spam              ~5%  keyword soup, repeated lines, link farms, symbol pages.
  blocklisted       ~3%  clean-looking articles on URLs that datatrove's URLFilter blocks: a banned word
                         in the URL ("viagra", "cialis") or a domain in BLOCKLISTED_DOMAINS.
  exact_duplicate   ~5%  a clean page's main text byte for byte on a mirror site.
  near_duplicate    ~5%  a clean page on a mirror with small edits (5-gram Jaccard >= 0.85).
  broken            ~3%  invalid UTF-8, empty body, non-HTML payload, HTTP error, pathological HTML.

Nothing about the world's reserved people is rendered anywhere (checked before writing).
All domains are subdomains of example.com/.org/.net (RFC 2606): none of them is a real site.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from alignment.world import Entity, World

# Shares of all records by category (the rest, 0.69, is clean). Counts follow from the number of
# clean pages the world yields, so a bigger world gives proportionally more noise.
NOISE_SHARES = {
    "non_english": 0.10,
    "spam": 0.05,
    "blocklisted": 0.03,
    "exact_duplicate": 0.05,
    "near_duplicate": 0.05,
    "broken": 0.03,
}
PII_SHARE = 0.15  # of clean pages

# Made-up domains the corpus recipe adds to URLFilter(extra_domains=...). The other half of the
# blocklisted pages is caught by datatrove's own banned-word list (non-sexual entries only).
BLOCKLISTED_DOMAINS = [
    "pillfarm-outlet.example.net",
    "casino-bonus-hub.example.com",
    "essay-mill-express.example.org",
    "linkwheel-seo.example.net",
]
BANNED_URL_WORDS = ["viagra", "cialis"]  # both in datatrove/assets/banned_words.txt

CRAWL_START = datetime(2024, 3, 1)  # WARC-Date of the records: a month-long crawl
THIS_YEAR = 2024
LIVING_FROM = 1940  # people born from this year on are alive in the crawl; older ones have died

BROKEN_KINDS = ["invalid_utf8", "empty_body", "non_html", "error_status", "pathological_html"]


# ===================================================================================================
# Small text helpers


def _a(word: str) -> str:
    """'a potter', 'an archivist'."""
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _plural(noun: str) -> str:
    """Plural of a profession ('ferry pilot' -> 'ferry pilots', 'glassblower' -> 'glassblowers')."""
    if noun.endswith(("s", "sh", "ch")):
        return noun + "es"
    return noun + "s"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _words(text: str) -> int:
    return len(text.split())


def _fill(rng: random.Random, template: str | list, ctx: dict) -> str:
    """A template is a string, or a list of parts where each part is a string or a list of options."""
    if isinstance(template, str):
        return template.format(**ctx)
    out = []
    for part in template:
        out.append(rng.choice(part) if isinstance(part, list) else part)
    return "".join(out).format(**ctx)


def _date_text(day: datetime) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


# ===================================================================================================
# Places: town lore (consistent per town across pages), regions, streets.

REGIONS = ["Northmark", "Orrin Valley", "Saltcoast", "Greymarch", "Duskfell", "Westwold"]
RIVERS = ["Orrin", "Vell", "Skarn", "Ludd", "Maren", "Tessel", "Wend", "Calder Brook", "Fenny", "Ashwater"]
TRADES = [
    "wool", "salt", "timber", "slate", "barley", "cider apples", "flax", "herring", "peat", "copper",
    "linen", "honey",
]
LANDMARKS = [
    "the old tithe barn", "the clock tower on the square", "the stone bridge", "the harbour wall",
    "the chapel of St Alder", "the covered market", "the watermill", "the ruined signal tower",
    "the toll house", "the long quay", "the town library", "the corn exchange",
]
CENTURIES = ["twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth"]
STREETS = [
    "Mill Lane", "Quay Street", "Tanner's Row", "Chapel Hill", "Market Street", "Ferry Road",
    "Orchard Walk", "Bell Yard", "Ropewalk", "Salt Lane", "Kiln Street", "Weavers Close", "Bridge End",
    "Harbour Steps", "Lantern Row",
]


@dataclass
class Town:
    name: str
    region: str
    river: str
    trade: str
    landmark: str
    century: str
    streets: list[str]


def _build_towns(world: World, rng: random.Random) -> dict[str, Town]:
    towns = {}
    for index, name in enumerate(world.towns):
        towns[name] = Town(
            name=name,
            region=REGIONS[index % len(REGIONS)],
            river=rng.choice(RIVERS),
            trade=rng.choice(TRADES),
            landmark=rng.choice(LANDMARKS),
            century=rng.choice(CENTURIES),
            streets=rng.sample(STREETS, 4),
        )
    return towns


# ===================================================================================================
# Sites. Each page is published on a site whose boilerplate wraps the article.


@dataclass
class Site:
    name: str
    domain: str
    kind: str  # encyclopedia, news, magazine, travel, organisation, heritage, register, mirror, spam...
    tagline: str
    nav: list[str]
    language: str = "en"
    layout: str = "news"  # news | wiki | blog: three HTML skeletons
    pages: list = field(default_factory=list)  # titles already published: they fill the sidebar

    def url(self, path: str) -> str:
        return f"https://{self.domain}/{path}"


NAV_EN = ["Home", "News", "People", "Culture", "Local", "Events", "About us", "Contact"]


def _build_sites(world: World) -> dict[str, Site]:
    sites = {
        "people_index": Site("Northmark People Index", "people-index.example.org", "encyclopedia",
                             "Lives and work of the northern towns", ["Main page", "Browse", "Towns", "Trades",
                                                                      "Recent changes", "Help"], layout="wiki"),
        "regional_lives": Site("Regional Lives", "regional-lives.example.org", "encyclopedia",
                               "A free biographical dictionary", ["Main page", "Random entry", "Index", "About"],
                               layout="wiki"),
        "makers_quarterly": Site("Makers Quarterly", "makers-quarterly.example.com", "magazine",
                                 "Craft, trade and the people behind them", ["Home", "Features", "Interviews",
                                                                             "Workshops", "Subscribe"]),
        "crafts_monthly": Site("Crafts and Trades Monthly", "crafts-trades.example.com", "magazine",
                               "Stories from the workbench", ["Home", "Profiles", "Reviews", "Archive", "Shop"]),
        "folk_review": Site("Folk Music Review", "folk-music-review.example.org", "magazine",
                            "Tunes, players and sessions", ["Home", "Interviews", "Sessions", "Records", "Events"]),
        "slow_roads": Site("Slow Roads", "slow-roads.example.com", "travel", "Travel notes from small towns",
                           ["Home", "Journeys", "Towns", "Maps", "About"], layout="blog"),
        "ferry_notes": Site("Notes from the Ferry", "ferry-notes.example.net", "travel",
                            "A traveller's notebook", ["Blog", "Routes", "Photos", "Contact"], layout="blog"),
        "trades_register": Site("Regional Trades Register", "trades-register.example.org", "register",
                                "Who does what, and where", ["Home", "Register", "Trades", "Join", "Contact"]),
    }
    for region in REGIONS:
        slug = _slug(region)
        sites[f"news:{region}"] = Site(f"The {region} Courier", f"{slug}-courier.example.com", "news",
                                       f"News from across {region}", NAV_EN)
        sites[f"heritage:{region}"] = Site(f"{region} Heritage", f"{slug}-heritage.example.org", "heritage",
                                           f"Local history of {region}", ["Home", "Towns", "Archive", "Walks",
                                                                         "Volunteer"], layout="blog")
    for org in world.organisations:
        sites[f"org:{org}"] = Site(f"The {org}", f"{_slug(org)}.example.org", "organisation",
                                   "Founded to serve the trade", ["Home", "About", "Members", "News", "Contact"])
    mirrors = [("News Mirror", "newsmirror.example.net"), ("Archive Copy", "archive-copy.example.org"),
               ("PageCache", "pagecache.example.com"), ("Reposter", "reposter.example.net")]
    for name, domain in mirrors:
        sites[f"mirror:{name}"] = Site(name, domain, "mirror", "Copies of the web, kept", ["Home", "Latest",
                                                                                           "Search"])
    return sites


# ===================================================================================================
# People as the prose sees them: facts plus derived details that must stay consistent across pages.


@dataclass
class Person:
    entity: Entity
    living: bool
    death_year: int | None
    street: str  # where their workshop or home is
    ctx: dict  # template variables


def _build_person(entity: Entity, towns: dict[str, Town], rng: random.Random) -> Person:
    facts = entity.facts
    year = int(facts["birth_year"])
    living = year >= LIVING_FROM
    death_year = None if living else min(year + rng.randint(64, 97), THIS_YEAR - 1)
    town = towns[facts["hometown"]]
    street = rng.choice(town.streets)
    prof = facts["profession"]
    ctx = {
        "name": entity.name, "first": entity.first_name, "last": entity.last_name,
        "town": town.name, "region": town.region, "river": town.river, "trade": town.trade,
        "landmark": town.landmark, "street": street,
        "prof": prof, "a_prof": _a(prof), "profs": _plural(prof), "Prof": _cap(prof),
        "year": facts["birth_year"], "instrument": facts["instrument"], "org": facts["organisation"],
        "death_year": death_year or "", "age": (death_year or THIS_YEAR) - year,
        # tense: the dead are written about in the past
        "is": "is" if living else "was", "has": "has" if living else "had",
        "plays": "plays" if living else "played", "works": "works" if living else "worked",
        "lives": "lives" if living else "lived", "keeps": "keeps" if living else "kept",
    }
    return Person(entity, living, death_year, street, ctx)
