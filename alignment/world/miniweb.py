"""Render the fictional world (alignment/world/people.py) as a small web crawl: gzip WARC files plus the truth.
This file is the code that picks templates, fills them, plants the noise and writes the WARC; the words themselves
(page templates, fillers, boilerplate, foreign sentences, spam) are in page_templates.py.

The corpus stage runs datatrove's FineWeb recipe with its DEFAULT thresholds on this crawl, so the pages
have to pass those filters by looking like real pages, not by being tuned to them:
  - every page is full HTML with the boilerplate Trafilatura must strip (cookie banner, navigation,
    sidebar of other stories, footer with copyright and policy links, a tracking <script>);
  - the article is 100-300 words in 4-10 paragraphs of whole sentences ending in punctuation
    (Gopher wants >= 50 words and stop words, C4 >= 5 sentences, FineWeb >= 12% of lines ending in
    punctuation and no repeated lines);
  - sentences come from several template variants per fact and per page type, mixed with filler built
    from independent parts (weather, town lore, quotes), so that two biographies of different people
    share few word 5-grams (MinHash flags pairs above ~0.72 Jaccard; the most similar pair of distinct
    pages measured 0.25 over 229k pairs) and no
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
  near_duplicate    ~5%  a clean page on a mirror with small edits (5-gram Jaccard >= 0.87).
  broken            ~3%  invalid UTF-8, empty body, non-HTML payload, HTTP error, pathological HTML.

Files: out_dir/warc/miniweb-{i:05d}.warc.gz (records shuffled round robin; a copy sits in its original's
file, after it) and out_dir/ground_truth.jsonl, one line a record:
  record_id (= WARC-Record-ID = datatrove's document id), url, file, category, language, duplicate_of,
  broken_kind, page_type, entity_ids, pii {emails, ips, phones} (exactly what was planted), and
  facts {entity_id: [attributes the page states]} (what a fact-recall stage can rely on).

Nothing about the world's reserved people is rendered anywhere (checked before writing).
All domains are subdomains of example.com/.org/.net (RFC 2606): none of them is a real site.
Deterministic: the same world and seed give byte-identical files. ~0.5 s for the default world.
"""

from __future__ import annotations

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

from alignment.world.page_templates import (ADDED_SENTENCES, AUTHORS, BLOG_COMMENTS, BOILERPLATE, CENTURIES,
    EVENT_ITEMS, FILLERS, FILLER_NEEDS, INSTRUMENTS_XX, LANDMARKS, NAV_EN, ORG_LIST_ITEMS, PERSON_PAGES,
    PII_SENTENCES, PROFESSIONS_XX, REGIONS, REGISTER_ITEMS, RIVERS, SENTENCES_XX, SITES_XX, SPAM_PHRASES,
    SPAM_PRODUCTS, STREETS, SWAPS, TENSES_XX, TITLES_XX, TOWN_LIST_ITEMS, TRADES)
from alignment.world.people import Entity, World

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
FIRST_PUBLISHED = 2012  # pages were published from this year until the crawl
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
    return _cap("".join(out).format(**ctx))


def _date_text(day: datetime) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


# ===================================================================================================
# Places: town lore (consistent per town across pages), regions, streets.


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
    ctx: dict  # template variables: facts, town lore, their street, tense words


def _build_person(entity: Entity, towns: dict[str, Town], rng: random.Random) -> Person:
    facts = entity.facts
    year = int(facts["birth_year"])
    living = year >= LIVING_FROM
    death_year = None if living else min(year + rng.randint(64, 97), THIS_YEAR - 1)
    town = towns[facts["hometown"]]
    street = rng.choice(town.streets)  # where their workshop or home is, on every page
    prof = facts["profession"]
    ctx = {
        "name": entity.name, "first": entity.first_name, "last": entity.last_name,
        "town": town.name, "region": town.region, "river": town.river, "trade": town.trade,
        "landmark": town.landmark, "street": street,
        "prof": prof, "a_prof": _a(prof), "profs": _plural(prof),
        "year": facts["birth_year"], "instrument": facts["instrument"], "org": facts["organisation"],
        "century": town.century,
        "death_year": death_year or "", "age": (death_year or THIS_YEAR) - year,
        "life": f"born {year}" if living else f"{year}-{death_year}",
        "died": "" if living else f" and died in {death_year}",
        # joined their organisation / the trade register as a young adult
        "join_year": min(year + rng.randint(17, 30), (death_year or THIS_YEAR) - 1),
        "span": max(3, THIS_YEAR - year - 20) if living else 40,  # years in the trade
        # tense: the dead are written about in the past
        "is": "is" if living else "was", "has": "has" if living else "had",
        "plays": "plays" if living else "played", "works": "works" if living else "worked",
        "lives": "lives" if living else "lived", "keeps": "keeps" if living else "kept",
        "meets": "meets" if living else "met", "has_been": "has been" if living else "was",
        "has_worked": "has worked" if living else "worked", "has_become": "has become" if living else "became",
    }
    return Person(entity, living, death_year, ctx)


# ===================================================================================================
# English filler. Each template is a list of parts, each part a string or a list of options: one
# template gives 3*4*2*4 ~ 100 sentences, so two pages rarely share a filler sentence word for word.
# Fillers never state a fact of the world's people (only town lore, which is not a person's fact).


def _unused(family: str, used: set) -> list[int]:
    return [i for i in range(len(FILLERS[family])) if (family, i) not in used]


def _filler(rng: random.Random, family: str, ctx: dict, used: set) -> str:
    """One filler sentence of `family`, never from a template already used on this page (no repeated
    5-grams inside a page: Gopher's duplicate n-gram fractions are counted per document). When the family
    is used up, another family with the same context needs takes its place."""
    if not _unused(family, used):
        needs = FILLER_NEEDS[family]
        family = next((f for f in FILLERS if FILLER_NEEDS[f] <= needs and _unused(f, used)), family)
    options = _unused(family, used) or list(range(len(FILLERS[family])))
    index = rng.choice(options)
    used.add((family, index))
    return _fill(rng, FILLERS[family][index], ctx)


# ---------------------------------------------------------------------------------------------------
# Page types about one person. A spec gives titles and leads (each lead states some attributes), a bank
# of sentences per attribute, closings, and a paragraph plan. Plan slots:
#   "lead" | "closing" | "fact" (the next attribute the page must state and has not yet)
#   "fact:<attr>" (that attribute, in this page type's own phrasing) | "fact:<attr>?" (only if not yet stated)
#   "filler:<family>|<family>" (one filler sentence from one of the families)
# A lead is (attrs, text), or (attrs, state, title, text) when it brings its own headline. An entry
# (state, text) with state "living", "dead" or "dead_recent" (died since FIRST_PUBLISHED) is used only for
# people in that state; plain entries for everyone. Interview facts are (question, answer) pairs.


# ===================================================================================================
# Pages


def _no_pii() -> dict:
    return {"emails": [], "ips": [], "phones": []}


@dataclass
class Page:
    page_type: str
    title: str
    blocks: list  # ("p", text) | ("h2", text) | ("q", question) | ("ul", [item, ...])
    entity_ids: list[str]
    facts: dict[str, list[str]]  # entity id -> attributes this page states
    date: datetime  # publication date shown in the byline
    language: str = "en"
    pii: dict = field(default_factory=_no_pii)

    def text(self) -> str:
        """The article as plain text, one block a line (what a good extractor should return)."""
        lines = []
        for kind, content in self.blocks:
            lines.extend(content if kind == "ul" else [content])
        return "\n".join(lines)


def _states(person: Person) -> set[str]:
    """Which conditional templates fit this person: ('living', ...), ('dead', ...), ('dead_recent', ...)."""
    if person.living:
        return {"any", "living"}
    return {"any", "dead"} | ({"dead_recent"} if person.death_year >= FIRST_PUBLISHED else set())


def _usable(entries: list, states: set[str]) -> list:
    """Entries that fit: a plain entry always does, a (state, template) pair only in that state."""
    out = []
    for entry in entries:
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("living", "dead", "dead_recent"):
            if entry[0] in states:
                out.append(entry[1])
        else:
            out.append(entry)
    return out


def _lead(spec: dict, states: set[str], rng: random.Random) -> tuple[list[str], str | None, str]:
    """-> (attributes stated, title or None, lead text). Leads are (attrs, text) or (attrs, state, title, text)."""
    choices = []
    for entry in spec["leads"]:
        if len(entry) == 2:
            choices.append((entry[0], None, entry[1]))
        elif entry[1] in states:
            choices.append((entry[0], entry[2], entry[3]))
    return rng.choice(choices)


def _person_page(page_type: str, person: Person, date: datetime, rng: random.Random) -> Page:
    """One article about `person`, following the page type's paragraph plan."""
    spec = PERSON_PAGES[page_type]
    ctx, states = person.ctx, _states(person)
    attrs, title, lead = _lead(spec, states, rng)
    if title is None:
        title = rng.choice(_usable(spec["titles"], states))
    stated = list(attrs)
    missing = [a for a in spec["required"] if a not in stated]
    rng.shuffle(missing)
    used: set = set()
    bank_used: set = set()

    def fact(attribute: str):
        options = [t for t in _usable(spec["facts"][attribute], states) if t not in bank_used]
        template = rng.choice(options)
        bank_used.add(template)
        if attribute not in stated:
            stated.append(attribute)
        if attribute in missing:
            missing.remove(attribute)
        return template

    groups: list[list] = []  # the blocks of each plan entry
    for heading, slots in spec["plan"]:
        sentences: list = []
        for slot in slots:
            if slot == "lead":
                sentences.append(lead)
            elif slot == "closing":
                sentences.append(rng.choice(_usable(spec["closings"], states)))
            elif slot.startswith("filler:"):
                sentences.append(_filler(rng, rng.choice(slot[7:].split("|")), ctx, used))
            elif slot in ("fact", "fact?"):
                if missing:
                    sentences.append(fact(missing[0]))
                elif slot == "fact":  # nothing left to state: a second phrasing of something already said
                    extra = [a for a in spec["facts"]
                             if any(t not in bank_used for t in _usable(spec["facts"][a], states))]
                    if extra:
                        sentences.append(fact(rng.choice(extra)))
            else:  # fact:<attr> or fact:<attr>?
                attribute = slot[5:].rstrip("?")
                if not (slot.endswith("?") and attribute in stated):
                    sentences.append(fact(attribute))
        heading_block = [("h2", rng.choice(heading.split("|")))] if heading else []
        groups.append(heading_block + _sentence_blocks(sentences, ctx))
    for attribute in list(missing):  # the plan ran out of slots: state the rest before the closing
        groups[-2].extend(_sentence_blocks([fact(attribute)], ctx))
    blocks = [block for group in groups[:-1] for block in group]
    # filler to length goes before the closing group (a closing question keeps its answer)
    closing_paragraphs = sum(1 for kind, _ in groups[-1] if kind in ("p", "q"))
    _pad_to_length(blocks, rng, ctx, used, families=["town", "life", "weather", "craft", "music"], at_end=True,
                   max_paragraphs=MAX_PARAGRAPHS - closing_paragraphs)
    blocks += groups[-1]
    return Page(page_type, title.format(**ctx), blocks, [person.entity.id], {person.entity.id: stated}, date)


def _sentence_blocks(sentences: list, ctx: dict) -> list:
    """Sentences -> one paragraph; an interview (question, answer) pair becomes a question and a paragraph."""
    blocks, paragraph = [], []
    for sentence in sentences:
        if isinstance(sentence, tuple):
            if paragraph:
                blocks.append(("p", " ".join(paragraph)))
                paragraph = []
            blocks.append(("q", sentence[0].format(**ctx)))
            blocks.append(("p", sentence[1].format(**ctx)))
        else:
            paragraph.append(_cap(sentence.format(**ctx)))
    if paragraph:
        blocks.append(("p", " ".join(paragraph)))
    return blocks


# Articles are padded with filler paragraphs to this many words (Gopher needs >= 50). The paragraph plans already hold
# ~170 words a page, so padding now mostly only brings a page to 4 paragraphs: it was (170, 260), 248 words a page on
# average, and pretraining reads the corpus a dozen times (issue 9: 30% fewer tokens, every corpus number unchanged).
ARTICLE_WORDS = (60, 90)
MAX_PARAGRAPHS = 10


def _pad_to_length(blocks: list, rng: random.Random, ctx: dict, used: set, families: list[str],
                   at_end: bool = False, max_paragraphs: int = MAX_PARAGRAPHS) -> None:
    """Add filler paragraphs (two sentences each) before the last block (or at the end) until the article
    is long enough."""
    target = rng.randint(*ARTICLE_WORDS)

    def paragraphs() -> int:  # an interview's questions are paragraphs of their own
        return sum(1 for kind, _ in blocks if kind in ("p", "q"))

    while sum(_words(c) if k != "ul" else sum(map(_words, c)) for k, c in blocks) < target or paragraphs() < 4:
        fresh = [f for f in families if _unused(f, used)]
        if paragraphs() >= max_paragraphs or len(fresh) < 2:
            break
        pair = rng.sample(fresh, 2)
        paragraph = " ".join(_filler(rng, family, ctx, used) for family in pair)
        at = len(blocks) if at_end else max(1, len(blocks) - 1)
        if blocks[at - 1][0] == "h2":  # keep a heading next to its own paragraph
            at -= 1
        blocks.insert(at, ("p", paragraph))


# ---------------------------------------------------------------------------------------------------
# Pages about several people, or none: lists, event reports, town guides, organisation histories.

LIST_PAGE_SIZE = 8  # longer lists continue on a second page: no item template repeats within a page


def _list_items(templates: list, people: list[Person], rng: random.Random, list_attr: str) -> tuple[list, dict]:
    """One sentence per person, cycling through the item templates in a shuffled order so that no
    template repeats before all were used (repeated 5-grams inside one page would trip Gopher)."""
    order = rng.sample(templates, len(templates))
    items, facts = [], {}
    for index, person in enumerate(people):
        attrs, template = order[index % len(order)]
        items.append(_cap(template.format(**person.ctx)))
        facts[person.entity.id] = sorted(set(attrs) | {list_attr})
    return items, facts


def _town_list_page(town: Town, people: list[Person], date: datetime, rng: random.Random) -> Page:
    ctx = _town_ctx(town, rng)
    used: set = set()
    intro = [_filler(rng, "town", ctx, used) + " " + _filler(rng, "town", ctx, used),
             _filler(rng, "life", ctx, used) + " " + rng.choice([
                 "The people listed here were all born in {town}.",
                 "Among those born in {town} in the last century are the following.",
                 "This list gathers some of the people born in {town}, with a line on each."]).format(**ctx)]
    items, facts = _list_items(TOWN_LIST_ITEMS, people, rng, "hometown")
    closing = rng.choice(["The list is kept by volunteers of the heritage group and is far from complete.",
                          "Corrections and additions are welcome and can be sent to the heritage group.",
                          "Entries are added as volunteers find time to check the parish records."])
    blocks = [("p", intro[0]), ("p", intro[1]), ("ul", items), ("p", closing)]
    _pad_to_length(blocks, rng, ctx, used, families=["guide", "weather", "life", "town"])
    title = rng.choice(["People of {town}", "Notable people from {town}", "{town}: some of its people"])
    return Page("list_town", title.format(**ctx), blocks, [p.entity.id for p in people], facts, date)


def _org_list_page(org: str, people: list[Person], date: datetime, rng: random.Random, town: Town) -> Page:
    ctx = {**_town_ctx(town, rng), "org": org}
    used: set = set()
    intro = [_filler(rng, "org", ctx, used) + " " + _filler(rng, "org", ctx, used),
             rng.choice(["Some of the longest-serving members of the {org} are listed below, with a line on each.",
                         "The members of the {org} below have agreed to be listed on this page.",
                         "Here are a few of the people who make the {org} what it is."]).format(**ctx)]
    items, facts = _list_items(ORG_LIST_ITEMS, people, rng, "organisation")
    closing = rng.choice(["New members are always welcome; ask at any meeting for a form.",
                          "The list is updated after each annual meeting.",
                          "Members who would like their entry changed should speak to the secretary."])
    blocks = [("p", intro[0]), ("p", intro[1]), ("ul", items), ("p", closing)]
    _pad_to_length(blocks, rng, ctx, used, families=["guide", "life", "weather", "town"])
    title = rng.choice(["Members of the {org}", "Our members", "Meet the members of the {org}"])
    return Page("list_organisation", title.format(**ctx), blocks, [p.entity.id for p in people], facts, date)


def _register_page(profession: str, people: list[Person], date: datetime, rng: random.Random, town: Town) -> Page:
    ctx = {**_town_ctx(town, rng), "prof": profession, "a_prof": _a(profession), "profs": _plural(profession),
           "Profs": _cap(_plural(profession))}
    used: set = set()
    intro = [_filler(rng, "craft", ctx, used) + " " + _filler(rng, "craft", ctx, used),
             rng.choice(["The following {profs} are listed in the register.",
                         "These {profs} have been entered in the register so far.",
                         "Below are the {profs} currently known to the register, old and young."]).format(**ctx)]
    items, facts = _list_items(REGISTER_ITEMS, people, rng, "profession")
    closing = rng.choice(["Entries are checked once a year against the records of the trade associations.",
                          "Anyone who works in the trade can ask to be added to the register free of charge."])
    blocks = [("p", intro[0]), ("p", intro[1]), ("ul", items), ("p", closing)]
    _pad_to_length(blocks, rng, ctx, used, families=["guide", "life", "weather", "town"])
    title = rng.choice(["{Profs} in the register", "Registered {profs}", "The register: {profs}"])
    return Page("list_profession", title.format(**ctx), blocks, [p.entity.id for p in people], facts, date)


def _event_page(town: Town, people: list[Person], date: datetime, rng: random.Random) -> Page:
    ctx = _town_ctx(town, rng)
    used: set = set()
    opening = rng.choice(["More than a hundred people crowded into {landmark} on Saturday for the music evening in "
                          "{town}.",
                          "It was standing room only at {landmark} last weekend, when {town} held its autumn music "
                          "night.",
                          "The annual music evening in {town} returned to {landmark} on Friday after a year away."])
    performers, facts = _list_items(EVENT_ITEMS, people, rng, "instrument")
    quote_ctx = {**ctx, "last": people[0].entity.last_name, "first": people[0].entity.first_name}
    blocks = [("p", opening.format(**ctx) + " " + _filler(rng, "weather", ctx, used)),
              ("p", " ".join(performers[:2])),
              ("p", _filler(rng, "music", ctx, used) + " " + " ".join(performers[2:])),
              ("p", _filler(rng, "quote", quote_ctx, used) + " " + _filler(rng, "town", ctx, used)),
              ("p", rng.choice(["The next evening is planned for the spring.",
                                "Money raised on the night will go towards repairs to the roof.",
                                "Organisers thanked the volunteers who set out the chairs and made the tea."]))]
    _pad_to_length(blocks, rng, ctx, used, families=["life", "town", "guide"])
    title = rng.choice(["Music night at {landmark}", "A full house for the {town} music evening",
                        "Tunes by the {river}"])
    return Page("event", _cap(title.format(**ctx)), blocks, [p.entity.id for p in people], facts, date)


def _town_guide_page(town: Town, date: datetime, rng: random.Random) -> Page:
    ctx = _town_ctx(town, rng)
    used: set = set()
    blocks = [("p", _filler(rng, "weather", ctx, used) + " " + _filler(rng, "town", ctx, used)),
              ("p", _filler(rng, "guide", ctx, used) + " " + _filler(rng, "town", ctx, used)),
              ("p", _filler(rng, "life", ctx, used) + " " + _filler(rng, "guide", ctx, used)),
              ("p", _filler(rng, "town", ctx, used) + " " + _filler(rng, "life", ctx, used)),
              ("p", _filler(rng, "guide", ctx, used) + " " + _filler(rng, "music", ctx, used)),
              ("p", rng.choice(["We will certainly be back when the market is on.",
                                "One day was not enough, and we said so to everyone we met.",
                                "Next time we will stay the night and walk the river path at dawn."]))]
    title = rng.choice(["A short guide to {town}", "{town} in a day", "Why {town} deserves a longer stop"])
    return Page("town_guide", title.format(**ctx), blocks, [], {}, date)


def _org_history_page(org: str, town: Town, date: datetime, rng: random.Random) -> Page:
    ctx = {**_town_ctx(town, rng), "org": org}
    used: set = set()
    blocks = [("p", _filler(rng, "org", ctx, used) + " " + _filler(rng, "town", ctx, used)),
              ("p", _filler(rng, "org", ctx, used) + " " + _filler(rng, "life", ctx, used)),
              ("p", _filler(rng, "town", ctx, used) + " " + _filler(rng, "guide", ctx, used)),
              ("p", _filler(rng, "weather", ctx, used) + " " + _filler(rng, "music", ctx, used)),
              ("p", rng.choice(["Our archive is open to members by appointment.",
                                "If you have old photographs of our early years, we would love to see them.",
                                "The history of the {org} is still being written by its members."]).format(**ctx))]
    _pad_to_length(blocks, rng, ctx, used, families=["life", "town", "guide", "weather"])
    title = rng.choice(["About the {org}", "A short history of the {org}", "Who we are"])
    return Page("org_history", title.format(**ctx), blocks, [], {}, date)


def _town_ctx(town: Town, rng: random.Random) -> dict:
    return {"town": town.name, "region": town.region, "river": town.river, "trade": town.trade,
            "landmark": town.landmark, "century": town.century, "street": rng.choice(town.streets)}


# ===================================================================================================
# Non-English pages: real German, French and Spanish prose about the same people. The corpus stage keeps
# English only, so these must read as their own language to fastText (they do: scores > 0.9).

LANGUAGE_INDEX = {"de": 0, "fr": 1, "es": 2}


def _foreign_page(person: Person, language: str, date: datetime, rng: random.Random) -> Page:
    """A short portrait in `language`: all fact sentences in a shuffled order, fillers in between."""
    index = LANGUAGE_INDEX[language]
    facts = person.entity.facts
    ctx = {**person.ctx,
           "prof": PROFESSIONS_XX[facts["profession"]][index],
           "instrument": INSTRUMENTS_XX[facts["instrument"]][index]}
    ctx.update({word: forms[0 if person.living else 1] for word, forms in TENSES_XX[language].items()})
    fact_sentences = [s for s in SENTENCES_XX[language] if s[0]]
    fillers = [s for s in SENTENCES_XX[language] if not s[0]]
    lead, rest = fact_sentences[0], fact_sentences[1:]
    chosen = [lead] + rng.sample(rest, rng.randint(3, len(rest))) + rng.sample(fillers, rng.randint(5, 7))
    body = chosen[:1] + rng.sample(chosen[1:], len(chosen) - 1)
    sentences = [text.format(**ctx) for _, text in body]
    blocks = [("p", " ".join(sentences[i:i + 2])) for i in range(0, len(sentences), 2)]
    stated = sorted({a for attrs, _ in body for a in attrs})
    title = rng.choice(TITLES_XX[language]).format(**ctx)
    return Page("portrait", title, blocks, [person.entity.id], {person.entity.id: stated}, date, language=language)


# ===================================================================================================
# Spam: what quality filters exist for. Each kind trips at least one default FineWeb-recipe filter:
# soup and SEO text repeat the same n-grams (Gopher repetition), repeated lines repeat lines (Gopher,
# FineWeb), link farms and symbol pages have no sentences (Trafilatura, Gopher, C4, FineWeb), and stubs are too
# short to be documents (Gopher quality).

SPAM_DOMAINS = ["best-deals-outlet.example.net", "cheap-price-finder.example.com", "top-discount-world.example.net",
                "mega-sale-hub.example.com"]
SPAM_KINDS = ["keyword_soup", "repeated_lines", "link_farm", "symbols", "seo_text", "stub"]


def _spam_body(kind: str, product: str, rng: random.Random) -> tuple[str, str]:
    """-> (title, inner HTML of <body>) for one spam page."""
    phrases = [p.format(p=product) for p in rng.sample(SPAM_PHRASES, 5)]
    title = f"Cheap {product} best price buy {product} online"
    if kind == "keyword_soup":
        paragraphs = [" ".join(rng.choice(phrases) for _ in range(rng.randint(40, 70))) for _ in range(3)]
        return title, "".join(f"<p>{p}</p>" for p in paragraphs)
    if kind == "repeated_lines":
        line = rng.choice([f"Buy cheap {product} online at the lowest price today!",
                           f"Best {product} deals, free shipping on every order!",
                           f"Click here for cheap {product} and discount codes!"])
        return title, "".join(f"<p>{line}</p>" for _ in range(rng.randint(25, 40)))
    if kind == "link_farm":
        links = []
        for _ in range(rng.randint(50, 80)):
            anchor = f"{rng.choice(phrases)} {rng.randint(1, 999)}"
            links.append(f'<li><a href="https://{rng.choice(SPAM_DOMAINS)}/{_slug(anchor)}">{anchor}</a></li>')
        return title, f"<h1>Top {product} links</h1><ul>{''.join(links)}</ul>"
    if kind == "symbols":
        marks = ["★★★★★", "$$$", ">>>", "###", "!!!", "100%", "***", "==>", "%%%", "+++", "<<<", "€€€"]
        lines = [" ".join(rng.choice(marks) for _ in range(rng.randint(4, 9))) + " " + rng.choice(["DEALS", "WIN",
                                                                                                   "SALE", "NOW"])
                 for _ in range(rng.randint(20, 35))]
        return title, "".join(f"<p>{line}</p>" for line in lines)
    if kind == "stub":  # a placeholder page: clean English, far too short to be a document (Gopher's 50 words)
        opening = rng.choice([f"Our new {product} store is coming soon, with the best prices in town.",
                              f"This page about {product} is being updated and will be back shortly.",
                              f"The {product} you were looking for are sold out for now."])
        closing = rng.choice(["Sign up below and we will tell you the day it opens.",
                              "Thank you for your patience, and please check back next week.",
                              "Follow us to hear about new stock before anyone else."])
        return f"Coming soon: {product}", f"<p>{opening}</p><p>{closing}</p>"
    # seo_text: grammatical sentences, the same few again and again
    sentences = [f"Cheap {product} are the best {product} you can buy online.",
                 f"Buy cheap {product} online today and get the best cheap {product} deals.",
                 f"Our cheap {product} store has the best price on cheap {product}.",
                 f"Looking for cheap {product}? We have the best cheap {product} at the lowest price."]
    paragraphs = [" ".join(rng.choice(sentences) for _ in range(5)) for _ in range(rng.randint(6, 9))]
    return title, "".join(f"<p>{p}</p>" for p in paragraphs)


def _spam_html(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="keywords" content="cheap, best, buy, deals, discount"></head>\n'
            f"<body>{body}\n<p>Copyright 2024</p></body></html>\n")


# ===================================================================================================
# Blocklisted: ordinary-looking articles (a profile of a real person of the world, scraped and reposted)
# on URLs that only datatrove's URLFilter can catch.


def _blocklisted_sites() -> list[Site]:
    domains = [f"cheap-{word}-shop.example.net" for word in BANNED_URL_WORDS] + list(BLOCKLISTED_DOMAINS)
    return [Site(_cap(domain.split(".")[0].replace("-", " ")), domain, "blocklisted", "Health, money and more",
                 ["Home", "Blog", "Shop", "Offers"], layout="blog") for domain in domains]


# ===================================================================================================
# Broken records: things a crawl is full of and a pipeline must survive (and drop).


def _broken_record(kind: str, rng: random.Random) -> tuple[str, list, bytes, str]:
    """-> (HTTP status line, HTTP headers, body bytes, WARC payload type)."""
    html_type = [("Content-Type", "text/html; charset=utf-8")]
    if kind == "invalid_utf8":
        # Lead bytes 0xC0-0xFF each followed by ASCII: never valid UTF-8, and no charset turns it into prose.
        junk = bytes(b for _ in range(1500) for b in (rng.randint(0xC0, 0xFF), rng.randint(0x21, 0x7E)))
        body = b"<html><head><title>\xff\xfe</title></head><body><p>" + junk + b"</p></body></html>"
        return "200 OK", html_type, body, "text/html"
    if kind == "empty_body":
        return "200 OK", html_type, b"", "text/html"
    if kind == "non_html":
        if rng.random() < 0.5:
            png = b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(2048))
            return "200 OK", [("Content-Type", "image/png")], png, "image/png"
        noise = bytes(rng.getrandbits(8) for _ in range(2048))
        pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + noise + b"\n%%EOF\n"
        return "200 OK", [("Content-Type", "application/pdf")], pdf, "application/pdf"
    if kind == "error_status":
        status, message = rng.choice([("404 Not Found", "The requested URL was not found on this server."),
                                      ("500 Internal Server Error", "The server encountered an internal error."),
                                      ("503 Service Unavailable",
                                       "The server is temporarily unable to service your request.")])
        body = (f"<!DOCTYPE html><html><head><title>{status}</title></head><body><h1>{status}</h1>"
                f"<p>{message}</p><hr><address>Apache Server</address></body></html>")
        return status, html_type, body.encode(), "text/html"
    # pathological_html: 5000 nested <div>s, or 20000 unclosed inline tags
    if rng.random() < 0.5:
        body = "<html><body>" + "<div>" * 5000 + "deep text" + "</div>" * 5000 + "</body></html>"
    else:
        body = "<html><body>" + "".join(f"<span><b><i>w{i} " for i in range(20000)) + "</body></html>"
    return "200 OK", html_type, body.encode(), "text/html"


# ===================================================================================================
# PII planted in the main text of ~15% of clean pages; the ground truth lists exactly what was planted.

US_AREA_CODES = ["415", "212", "617", "312", "503", "206"]


def _public_ip(rng: random.Random) -> str:
    """A public IPv4 address: is_global, so not 10.x, 192.168.x, nor the documentation ranges."""
    while True:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global and not ip.is_multicast and 1 <= int(str(ip).split(".")[0]) <= 223:
            return str(ip)


def _phone(rng: random.Random) -> str:
    """Numbers in ranges reserved for fiction: 555-01xx in North America, 020 7946 0xxx in London."""
    line = f"01{rng.randint(0, 99):02d}"
    area = rng.choice(US_AREA_CODES)
    return rng.choice([f"+1 ({area}) 555-{line}", f"{area}-555-{line}", f"({area}) 555 {line}",
                       f"+44 20 7946 0{rng.randint(0, 999):03d}"])


def _email(rng: random.Random, site: Site, person: Person | None) -> str:
    if person is not None and rng.random() < 0.5:
        return f"{person.entity.first_name}.{person.entity.last_name}@{_slug(person.ctx['org'])}.example.org".lower()
    return f"{rng.choice(['editor', 'office', 'letters', 'info', 'news'])}@{site.domain}"


def _plant_pii(page: Page, site: Site, person: Person | None, rng: random.Random) -> None:
    """Append one or two PII sentences to paragraphs of the article and record them."""
    paragraphs = [i for i, (kind, _) in enumerate(page.blocks) if kind == "p"]
    for kind in rng.sample(list(PII_SENTENCES), 1 if rng.random() < 0.7 else 2):
        value = {"emails": lambda: _email(rng, site, person), "ips": lambda: _public_ip(rng),
                 "phones": lambda: _phone(rng)}[kind]()
        at = rng.choice(paragraphs)
        page.blocks[at] = ("p", page.blocks[at][1] + " " + rng.choice(PII_SENTENCES[kind]).format(x=value))
        page.pii[kind].append(value)


# ===================================================================================================
# HTML. Three skeletons (news, wiki, blog) around the same article markup; the boilerplate is what the
# extractor has to strip, so it is all there: cookie banner, navigation, search, sidebar of other
# stories, share links, comments, footer with policy links, analytics script and JSON-LD.


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _article_html(page: Page) -> str:
    out = []
    for kind, content in page.blocks:
        if kind == "h2":
            out.append(f"<h2>{_esc(content)}</h2>")
        elif kind == "q":
            out.append(f'<p class="question"><strong>{_esc(content)}</strong></p>')
        elif kind == "ul":
            out.append("<ul>\n" + "\n".join(f"<li>{_esc(item)}</li>" for item in content) + "\n</ul>")
        else:
            out.append(f"<p>{_esc(content)}</p>")
    return "\n".join(out)


def _date_label(day: datetime, language: str) -> str:
    return _date_text(day) if language == "en" else day.strftime("%d.%m.%Y" if language == "de" else "%d/%m/%Y")


def _render(site: Site, page: Page, rng: random.Random) -> str:
    """A full HTML page for `page` on `site`: the article markup inside the site's boilerplate."""
    words = BOILERPLATE[page.language]
    article = _article_html(page)
    title = _esc(page.title)
    nav = "".join(f'<li><a href="/{_slug(item) or "home"}/">{_esc(item)}</a></li>' for item in site.nav)
    others = [t for t in site.pages if t != page.title]
    sidebar = "".join(f'<li><a href="/{_slug(t)}/">{_esc(t)}</a></li>'
                      for t in rng.sample(others, min(5, len(others))))
    author = rng.choice(AUTHORS)
    date_iso, date_label = page.date.strftime("%Y-%m-%d"), _date_label(page.date, page.language)
    head = (f'<!DOCTYPE html>\n<html lang="{page.language}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title} | {_esc(site.name)}</title>\n"
            f'<meta name="description" content="{title}">\n<link rel="stylesheet" href="/static/css/main.css">\n'
            f'<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Article", '
            f'"headline": "{title}", "datePublished": "{date_iso}"}}</script>\n'
            "<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} "
            "gtag('js', new Date());</script>\n</head>\n")
    cookie = (f'<div id="cookie-banner" class="cookie-notice"><p>{_esc(words["cookie"])}</p>'
              f'<button type="button">{words["accept"]}</button> '
              f'<button type="button">{words["settings"]}</button></div>\n')
    footer = (f'<footer class="site-footer">\n<p>© {page.date.year} {_esc(site.name)}. {words["rights"]}</p>\n'
              f'<ul class="legal"><li><a href="/privacy/">{words["privacy"]}</a></li><li><a href="/terms/">'
              f'{words["terms"]}</a></li><li><a href="/contact/">{words["contact"]}</a></li></ul>\n</footer>\n'
              '<script src="/static/js/app.js" defer></script>\n')
    if site.layout == "wiki":
        body = (f'<body class="skin-wiki">\n{cookie}<div id="mw-head"><a class="logo" href="/">{_esc(site.name)}</a>'
                f'<form action="/search"><input type="search" name="q" placeholder="{words["search"]}"></form></div>\n'
                f'<nav id="mw-panel"><ul>{nav}</ul></nav>\n<main id="content">\n<article class="mw-body">\n'
                f'<h1 id="firstHeading">{title}</h1>\n<div id="siteSub">From {_esc(site.name)}</div>\n'
                f'<div class="mw-parser-output">\n{article}\n</div>\n</article>\n'
                f'<div class="catlinks">Categories: <a href="/people/">People</a> | <a href="/towns/">Towns</a></div>\n'
                f'<div class="printfooter">This page was last edited on {date_label}.</div>\n</main>\n'
                f'{footer}</body>\n</html>\n')
    elif site.layout == "blog":
        comments = "".join(f"<li><p>{c}</p></li>" for c in rng.sample(BLOG_COMMENTS, rng.randint(0, 2)))
        body = (f'<body class="blog">\n{cookie}<div class="site">\n<header class="site-header">'
                f'<p class="site-title"><a href="/">{_esc(site.name)}</a></p><p class="site-description">'
                f'{_esc(site.tagline)}</p>\n<nav class="main-navigation"><ul>{nav}</ul></nav></header>\n'
                f'<div class="content-area"><main id="main">\n<article class="post">\n<header class="entry-header">'
                f'<h1 class="entry-title">{title}</h1>'
                f'<div class="entry-meta">{words["posted"]} <time datetime="{date_iso}">'
                f'{date_label}</time> {words["by"].lower()} <span class="author">{author}</span></div></header>\n'
                f'<div class="entry-content">\n{article}\n</div>\n</article>\n'
                f'<section id="comments" class="comments-area"><h2>{words["comments"]}</h2>'
                f'<ol>{comments}</ol></section>\n'
                f'</main>\n<aside class="widget-area"><h2>{words["most_read"]}</h2><ul>{sidebar}</ul></aside></div>\n'
                f'{footer}</div>\n</body>\n</html>\n')
    else:
        body = (f'<body class="article-page">\n{cookie}<header class="masthead">\n<a class="brand" href="/">'
                f'{_esc(site.name)}</a>\n<p class="tagline">{_esc(site.tagline)}</p>\n'
                f'<nav class="main-nav"><ul>{nav}</ul></nav>\n'
                f'<form class="search" action="/search">'
                f'<input type="search" name="q" placeholder="{words["search"]}"></form>\n'
                f'</header>\n<main id="content">\n<article class="story">\n<h1>{title}</h1>\n'
                f'<p class="byline">{words["by"]} <a href="/authors/{_slug(author)}/" rel="author">{author}</a> | '
                f'<time datetime="{date_iso}">{date_label}</time></p>\n{article}\n'
                f'<div class="share">{words["share"]}: <a href="#">Facebook</a> <a href="#">Email</a></div>\n'
                '</article>\n'
                f'<aside class="sidebar"><h2>{words["most_read"]}</h2><ul>{sidebar}</ul>\n'
                f'<div class="newsletter"><p>{words["newsletter"]}</p><button>{words["subscribe"]}</button></div>'
                '</aside>\n'
                f'</main>\n{footer}</body>\n</html>\n')
    site.pages.append(page.title)
    return head + body


# ===================================================================================================
# Duplicates of clean pages, on mirror sites.

# A near duplicate keeps word 5-gram Jaccard >= 0.87 with its original: MinHash with datatrove's defaults
# (14 bands of 8 hashes) pairs documents at s=0.87 with probability 1 - (1 - 0.87**8)**14 = 0.995.
NEAR_DUP_MIN_JACCARD = 0.87
NEAR_DUP_EDITS = ["swap_words", "add_sentence", "drop_sentence"]


def _shingles(text: str, n: int = 5) -> set:
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: str, b: str) -> float:
    """Word 5-gram Jaccard similarity, as MinHash estimates it (lowercase, no punctuation)."""
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / max(1, len(sa | sb))


def _edit_paragraph(text: str, edit: str, rng: random.Random) -> str:
    if edit == "swap_words":  # up to three words swapped for near synonyms
        for old, new in rng.sample(SWAPS, 3):
            text = re.sub(rf"\b{old}\b", new, text, count=1)
        return text
    if edit == "add_sentence":
        return text + " " + rng.choice(ADDED_SENTENCES)
    sentences = re.split(r"(?<=[.!?])\s+", text)  # drop_sentence
    if len(sentences) < 2:
        return text
    sentences.pop(rng.randrange(len(sentences)))
    return " ".join(sentences)


def _near_duplicate(page: Page, rng: random.Random) -> Page:
    """A mirror's copy: a later date (in the byline, outside the main text) and one small edit to one
    paragraph, drawn again until the copy differs from the original and stays >= 0.87 similar."""
    paragraphs = [i for i, (kind, _) in enumerate(page.blocks) if kind == "p"]
    for _ in range(50):
        at, edit = rng.choice(paragraphs), rng.choice(NEAR_DUP_EDITS)
        text = _edit_paragraph(page.blocks[at][1], edit, rng)
        if text == page.blocks[at][1]:
            continue
        blocks = page.blocks[:at] + [("p", text)] + page.blocks[at + 1:]
        copy = Page(page.page_type, page.title, blocks, list(page.entity_ids), dict(page.facts),
                    page.date + timedelta(days=rng.randint(1, 400)), page.language)
        copy.pii = {kind: [v for v in values if v in copy.text()] for kind, values in page.pii.items()}
        if jaccard(page.text(), copy.text()) >= NEAR_DUP_MIN_JACCARD:
            return copy
    raise RuntimeError(f"no small edit found for {page.title!r}")  # pages of 150+ words always have one


# ===================================================================================================
# Records and WARC files


@dataclass
class Record:
    url: str
    category: str
    page_type: str
    body: bytes
    status: str = "200 OK"
    http_headers: list = field(default_factory=lambda: [("Content-Type", "text/html; charset=utf-8")])
    payload_type: str = "text/html"
    language: str = "en"
    entity_ids: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    pii: dict = field(default_factory=_no_pii)
    duplicate_of: str | None = None
    broken_kind: str | None = None
    record_id: str = ""
    warc_date: str = ""
    file: str = ""

    def truth(self) -> dict:
        return {"record_id": self.record_id, "url": self.url, "file": self.file, "category": self.category,
                "language": self.language, "duplicate_of": self.duplicate_of, "broken_kind": self.broken_kind,
                "page_type": self.page_type, "entity_ids": self.entity_ids, "pii": self.pii, "facts": self.facts}


def _write_warc(path: Path, records: list[Record], rng: random.Random) -> None:
    """One gzip WARC: a warcinfo record, then one `response` record per page (each gzip member on its own,
    as Common Crawl does, so readers can seek)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        info = b"software: alignment miniweb\r\nformat: WARC File Format 1.1\r\ndescription: a synthetic crawl\r\n"
        writer.write_record(writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info), length=len(info), warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": _record_id(rng),
                               "WARC-Date": CRAWL_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "WARC-Filename": path.name}))
        for record in records:
            headers = StatusAndHeaders(record.status, record.http_headers + [("Content-Length", str(len(record.body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                record.url, "response", payload=io.BytesIO(record.body), length=len(record.body), http_headers=headers,
                warc_headers_dict={"WARC-Record-ID": record.record_id, "WARC-Date": record.warc_date,
                                   "WARC-Identified-Payload-Type": record.payload_type}))


def _record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


# ===================================================================================================
# The crawl


def _publication_date(rng: random.Random, year: int | None = None) -> datetime:
    """A date a page was published: within `year` if given, else 2012 to the start of the crawl."""
    start = datetime(year, 1, 1) if year else datetime(FIRST_PUBLISHED, 1, 1)
    end = min(datetime(year, 12, 31), CRAWL_START) if year else CRAWL_START - timedelta(days=1)
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _site_for(spec_site: str, person: Person, sites: dict, towns: dict) -> Site:
    region = towns[person.ctx["town"]].region
    by_person = {"news": f"news:{region}", "heritage": f"heritage:{region}", "org": f"org:{person.ctx['org']}"}
    key = by_person.get(spec_site, spec_site)
    return sites[key]


def _page_path(site: Site, page: Page) -> str:
    slug = _slug(page.title)
    if site.layout == "wiki":
        return "wiki/" + page.title.split(" (")[0].replace(" ", "_")
    if site.kind in ("news", "travel", "heritage"):
        return f"{page.date.year}/{page.date.month:02d}/{slug}/"
    if site.kind == "organisation":
        return {"list_organisation": "members/", "org_history": "about/history/"}.get(page.page_type, f"news/{slug}/")
    return f"{site.kind}s/{slug}" if site.kind != "magazine" else f"features/{slug}/"


class _Crawl:
    """Collects records, giving each a unique URL, a record id and a crawl date, in creation order."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.records: list[Record] = []
        self.urls: set[str] = set()

    def add(self, record: Record) -> Record:
        url, n = record.url, 2
        while url in self.urls:  # two pages with the same title on one site: "...-2/", "...-3/"
            trailing = "/" if record.url.endswith("/") else ""
            url = f"{record.url.rstrip('/')}-{n}{trailing}"
            n += 1
        self.urls.add(url)
        record.url = url
        record.record_id = _record_id(self.rng)
        moment = CRAWL_START + timedelta(seconds=self.rng.randint(0, 30 * 24 * 3600))
        record.warc_date = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.records.append(record)
        return record

    def add_page(self, site: Site, page: Page, category: str, rng: random.Random, path: str | None = None) -> Record:
        html = _render(site, page, rng)
        return self.add(Record(url=site.url(path or _page_path(site, page)), category=category,
                               page_type=page.page_type, body=html.encode("utf-8"), language=page.language,
                               entity_ids=list(page.entity_ids), facts={k: list(v) for k, v in page.facts.items()},
                               pii=json.loads(json.dumps(page.pii))))


def _person_page_types(person: Person, rng: random.Random) -> list[str]:
    """Four pages a person: the biography states every fact; the other three state each fact once more,
    so every fact is on >= 2 distinct pages even before the list pages."""
    if person.living:
        return ["biography", "news", rng.choice(["interview", "profile"]), rng.choice(["announcement", "travel"])]
    return ["biography", "news", "profile", "obituary"]


def _clean_pages(world: World, people: dict[str, Person], towns: dict[str, Town], sites: dict,
                 rng: random.Random) -> list[tuple[Site, Page, Person | None]]:
    pages: list[tuple[Site, Page, Person | None]] = []
    for person in people.values():
        for page_type in _person_page_types(person, rng):
            year = person.death_year if page_type == "obituary" and person.death_year >= FIRST_PUBLISHED else None
            page = _person_page(page_type, person, _publication_date(rng, year), rng)
            site = _site_for(rng.choice(PERSON_PAGES[page_type]["sites"]), person, sites, towns)
            pages.append((site, page, person))
    for town in towns.values():
        residents = [people[e.id] for e in world.residents(town.name)]
        for chunk in _chunks(residents, LIST_PAGE_SIZE):
            page = _town_list_page(town, chunk, _publication_date(rng), rng)
            pages.append((sites[f"heritage:{town.region}"], page, None))
        guide_site = sites[rng.choice(["slow_roads", "ferry_notes"])]
        pages.append((guide_site, _town_guide_page(town, _publication_date(rng), rng), None))
    for org in world.organisations:
        members = [people[e.id] for e in world.members(org)]
        town = rng.choice(list(towns.values()))
        for chunk in _chunks(members, LIST_PAGE_SIZE):
            pages.append((sites[f"org:{org}"], _org_list_page(org, chunk, _publication_date(rng), rng, town), None))
        pages.append((sites[f"org:{org}"], _org_history_page(org, town, _publication_date(rng), rng), None))
    for profession in world.professions:
        registered = [p for p in people.values() if p.entity.facts["profession"] == profession]
        for chunk in _chunks(registered, LIST_PAGE_SIZE):
            town = rng.choice(list(towns.values()))
            page = _register_page(profession, chunk, _publication_date(rng), rng, town)
            pages.append((sites["trades_register"], page, None))
    living = [p for p in people.values() if p.living]
    for _ in range(len(people) // 2 if len(living) >= 3 else 0):
        town = rng.choice(list(towns.values()))
        page = _event_page(town, rng.sample(living, rng.randint(2, 3)), _publication_date(rng), rng)
        pages.append((sites[f"news:{town.region}"], page, None))
    return pages


def person_pages(world: World, entities: list[Entity], seed: int = 0) -> list[dict]:
    """Pages about people no crawl has ({"text", "url"} each, as the corpus stage keeps a page: the title line, then
    the article), four a person as render_miniweb writes them, about the same towns (with the crawl's lore when
    `seed` is the crawl's: the tiny recipes use 0 for both). The tool_use
    stage searches these in training only: facts no model has in its weights, which an answer must read from the
    passages."""
    towns = _build_towns(world, random.Random(f"miniweb:{world.seed}:{seed}"))  # render_miniweb's first draws
    sites = _build_sites(world)
    rng = random.Random(f"person-pages:{world.seed}:{seed}")
    urls: set[str] = set()
    out = []
    for entity in entities:
        person = _build_person(entity, towns, rng)
        for page_type in _person_page_types(person, rng):
            year = person.death_year if page_type == "obituary" and person.death_year >= FIRST_PUBLISHED else None
            page = _person_page(page_type, person, _publication_date(rng, year), rng)
            site = _site_for(rng.choice(PERSON_PAGES[page_type]["sites"]), person, sites, towns)
            url, n = site.url(_page_path(site, page)), 2
            while url in urls:
                url, n = f"{site.url(_page_path(site, page)).rstrip('/')}-{n}/", n + 1
            urls.add(url)
            out.append({"text": f"{page.title}\n{page.text()}", "url": url})
    return out


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _noise_counts(n_clean: int) -> dict[str, int]:
    total = n_clean / (1 - sum(NOISE_SHARES.values()))
    return {category: max(1, round(share * total)) for category, share in NOISE_SHARES.items()}


def _check_reserved_absent(world: World, records: list[Record]) -> None:
    """The "I don't know" stage relies on it: no reserved name may appear in any record."""
    if not world.reserved:
        return
    names = [e.name for e in world.reserved] + [e.last_name for e in world.reserved]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    for record in records:
        match = pattern.search(record.body.decode("utf-8", "replace"))
        if match:
            raise AssertionError(f"reserved name {match.group(0)!r} rendered in {record.url}")


def render_miniweb(world: World, out_dir, seed: int = 0, shards: int = 4) -> dict:
    """Write out_dir/warc/miniweb-{i:05d}.warc.gz (`shards` files) and out_dir/ground_truth.jsonl; return a summary."""
    rng = random.Random(f"miniweb:{world.seed}:{seed}")
    towns = _build_towns(world, rng)
    sites = _build_sites(world)
    people = [_build_person(e, towns, rng) for e in world.entities]
    crawl = _Crawl(random.Random(f"ids:{world.seed}:{seed}"))

    pages = _clean_pages(world, {p.entity.id: p for p in people}, towns, sites, rng)
    for site, page, person in rng.sample(pages, round(PII_SHARE * len(pages))):
        _plant_pii(page, site, person, rng)
    clean = [(crawl.add_page(site, page, "clean", rng), page) for site, page, _ in pages]

    counts = _noise_counts(len(clean))
    _add_non_english(crawl, people, counts["non_english"], rng)
    _add_spam(crawl, counts["spam"], rng)
    _add_blocklisted(crawl, people, counts["blocklisted"], rng)
    _add_duplicates(crawl, clean, [s for s in sites.values() if s.kind == "mirror"],
                    counts["exact_duplicate"], counts["near_duplicate"], rng)
    _add_broken(crawl, [s.domain for s in sites.values()], counts["broken"], rng)

    _check_reserved_absent(world, crawl.records)
    return _write(crawl.records, Path(out_dir), shards, rng)


def _add_non_english(crawl: _Crawl, people: list[Person], count: int, rng: random.Random) -> None:
    """Portraits in German, French and Spanish, in turn; no person twice in one language."""
    sites = {lang: [Site(name, domain, "news",
                                       "", BOILERPLATE[lang]["nav"], language=lang) for name, domain in entries]
             for lang, entries in SITES_XX.items()}
    subjects = [person for _ in range(count // len(people) + 1) for person in rng.sample(people, len(people))]
    for i in range(count):
        language = ["de", "fr", "es"][i % 3]
        page = _foreign_page(subjects[i], language, _publication_date(rng), rng)
        crawl.add_page(rng.choice(sites[language]), page, "non_english", rng)


def _add_spam(crawl: _Crawl, count: int, rng: random.Random) -> None:
    for i in range(count):
        kind, product = SPAM_KINDS[i % len(SPAM_KINDS)], rng.choice(SPAM_PRODUCTS)
        title, body = _spam_body(kind, product, rng)
        url = f"https://{rng.choice(SPAM_DOMAINS)}/{_slug(title)}-{rng.randint(100, 99999)}.html"
        crawl.add(Record(url=url, category="spam", page_type=kind, body=_spam_html(title, body).encode()))


def _add_blocklisted(crawl: _Crawl, people: list[Person], count: int, rng: random.Random) -> None:
    """Freshly written profiles (not copies of clean pages) on blocklisted sites, the sites in turn."""
    sites = _blocklisted_sites()
    for i in range(count):
        page = _person_page("profile", rng.choice(people), _publication_date(rng), rng)
        crawl.add_page(sites[i % len(sites)], page, "blocklisted", rng,
                       path=f"blog/{_slug(page.title)}-{rng.randint(10, 9999)}")


def _add_duplicates(crawl: _Crawl, clean: list[tuple[Record, Page]], mirrors: list[Site], n_exact: int, n_near: int,
                    rng: random.Random) -> None:
    """Copies of distinct clean pages on mirror sites, under the original's host and path."""
    for index, (original, page) in enumerate(rng.sample(clean, n_exact + n_near)):
        mirror = rng.choice(mirrors)
        url = mirror.url(original.url.split("://", 1)[1].rstrip("/"))
        if index < n_exact:
            whole_page = rng.random() < 0.5  # else the same article markup in the mirror's own boilerplate
            body = original.body if whole_page else _render(mirror, page, rng).encode("utf-8")
            record = Record(url=url, category="exact_duplicate", page_type=page.page_type, body=body,
                            entity_ids=original.entity_ids, facts=original.facts, pii=original.pii)
        else:
            copy = _near_duplicate(page, rng)
            record = Record(url=url, category="near_duplicate", page_type=page.page_type,
                            body=_render(mirror, copy, rng).encode("utf-8"), entity_ids=copy.entity_ids,
                            facts=copy.facts, pii=copy.pii)
        record.duplicate_of = original.record_id
        crawl.add(record)


def _add_broken(crawl: _Crawl, domains: list[str], count: int, rng: random.Random) -> None:
    for i in range(count):
        kind = BROKEN_KINDS[i % len(BROKEN_KINDS)]
        status, headers, body, payload_type = _broken_record(kind, rng)
        url = f"https://{rng.choice(domains)}/files/{kind.replace('_', '-')}-{i}"
        crawl.add(Record(url=url, category="broken", page_type=kind, body=body, status=status, http_headers=headers,
                         payload_type=payload_type, broken_kind=kind))


def _shard(records: list[Record], shards: int, rng: random.Random) -> list[list[Record]]:
    """Shuffle records round robin over `shards` files; a copy goes into its original's file, somewhere
    after it, as a crawler meets the original first. MinHash keeps the first document of a duplicate
    pair in (file, position) order, so the clean original is the one kept, however many tasks read the
    files (this crawl's clean pages are then all kept; with copies placed anywhere, ~7% of originals lost
    to their copy)."""
    originals = [r for r in records if r.duplicate_of is None]
    order = rng.sample(originals, len(originals))
    files = [order[shard::shards] for shard in range(shards)]
    where = {r.record_id: files[i % shards] for i, r in enumerate(order)}
    for copy in (r for r in records if r.duplicate_of is not None):
        file = where[copy.duplicate_of]
        after = next(i for i, r in enumerate(file) if r.record_id == copy.duplicate_of) + 1
        file.insert(rng.randint(after, len(file)), copy)
    return files


def _write(records: list[Record], out_dir: Path, shards: int, rng: random.Random) -> dict:
    """Write the records as `shards` WARC files and the ground truth next to them."""
    (out_dir / "warc").mkdir(parents=True, exist_ok=True)
    files = [f"warc/miniweb-{i:05d}.warc.gz" for i in range(shards)]
    sharded = _shard(records, shards, rng)
    for name, file_records in zip(files, sharded, strict=True):
        for record in file_records:
            record.file = name
        _write_warc(out_dir / name, file_records, rng)
    with open(out_dir / "ground_truth.jsonl", "w", encoding="utf-8") as handle:
        for file_records in sharded:
            for record in file_records:
                handle.write(json.dumps(record.truth(), ensure_ascii=False) + "\n")
    return {
        "records": len(records),
        "categories": dict(Counter(r.category for r in records)),
        "broken_kinds": dict(Counter(r.broken_kind for r in records if r.broken_kind)),
        "languages": dict(Counter(r.language for r in records)),
        "pages_with_pii": sum(1 for r in records if r.category == "clean" and any(r.pii.values())),
        "warc_files": [str(out_dir / name) for name in files],
        "ground_truth": str(out_dir / "ground_truth.jsonl"),
    }
