"""Render the fictional world (alignment/world.py) as a small web crawl: gzip WARC files plus the truth.

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

FILLERS = {
    "weather": [
        [["A cold wind came off the {river}", "Rain had settled over {town}", "A thin fog lay on the {river}",
          "The first frost had reached {town}", "Late summer heat hung over {town}",
          "A grey drizzle drifted across the rooftops of {town}"],
         [" that morning", " for most of the week", " at the start of the week", " by the weekend"],
         [", and ", ", so "],
         ["the stalls on {street} stayed half empty.", "the ferry over the {river} ran late.",
          "few people were about before noon.", "the tea rooms on {street} were busier than usual.",
          "the bus from the coast arrived full of wet coats."]],
        [["Snow had fallen on the hills above {town}", "A warm wind blew up the valley of the {river}",
          "Heavy clouds sat over {region}"],
         [" the night before", " that week", " in early spring"],
         [", and ", " and "],
         ["the roads into town were slow.", "the river ran high and brown.",
          "the old men on the bench outside {landmark} talked of nothing else."]],
        [["It was market day in {town}", "It was a bright, cold Tuesday", "Spring had come late to {town}"],
         [" one morning last year", " on the first day of the fair", ""],
         [", and ", "; "],
         ["the square smelled of coffee and wet straw.", "the church bells were ringing for a wedding.",
          "the swifts had not yet returned to the eaves."]],
        [["By the time the church bell struck ten", "Later in the day", "Towards evening"],
         [", the clouds over {town} ", ", the sky above the {river} "],
         ["had cleared", "broke up at last", "turned a pale yellow"],
         [" and ", ", and "],
         ["children were playing by the water again.", "the square filled with people buying bread.",
          "the fishermen came back to the quay.", "the gulls settled on the roofs along {street}."]],
    ],
    "town": [
        ["{town} grew up around ", ["a", "an old"], " {trade} market in the {century} century",
         [", and ", ", and to this day "],
         ["its narrow streets still follow the old cart tracks.", "the market is held on the square every week.",
          "many of the older houses were paid for by that trade.", "the town seal shows a bale of {trade}."]],
        [["The river {river} runs", "The {river} winds", "The slow brown water of the {river} runs"],
         [" through the middle of {town}", " along the southern edge of {town}", " past the lower end of {town}"],
         [", and ", " and "],
         ["most visitors head first for {landmark}.", "{landmark} is the building most people photograph.",
          "the path along its bank is popular with walkers.",
          "in a wet spring it floods the meadows below the town."]],
        [["Like many places in {region}", "As in much of {region}", "In {town}, as elsewhere in {region}"],
         [", the {trade} trade shaped the town for centuries", ", the railway arrived late and left early",
          ", the population has hardly changed in a hundred years", ", the old families still run the shops"],
         [", and ", ", although "],
         ["few people under forty remember how it used to be.", "the local museum keeps a small display about it.",
          "the weekly market is still the best place to hear the news.", "visitors rarely stay more than a day."]],
        [["Records from the {century} century", "Old parish books", "The first maps of the area"],
         [" describe {town} as ", " mention {town} as "],
         ["a handful of houses by a ford", "a busy crossing on the {river}", "a market for {trade} and livestock",
          "a quiet place with a large chapel"],
         [", and the town has grown slowly ever since.", ", which is hard to imagine today.",
          ", and parts of that old settlement can still be traced on foot."]],
        [["The name {town}", "The old name of {town}"],
         [" is thought to come from", " probably comes from"],
         [" an old word for a river crossing", " the family that owned the mill",
          " a word for the {trade} once stored there"],
         [", and ", ", although "],
         ["local historians still argue about it.", "the spelling has changed many times.",
          "nobody can now say for certain."]],
        [["The oldest house in {town}", "The building next to {landmark}", "A row of cottages on {street}"],
         [" dates from the {century} century", " was built with stone from the {river} quarry"],
         [", and ", "; "],
         ["its walls lean at alarming angles.", "it is still lived in today.",
          "a plaque by the door tells its story."]],
    ],
    "life": [
        [["The bakery on {street}", "The small hardware shop on {street}", "The post office on {street}",
          "The bookshop by the square"],
         [" opens early", " closes at noon on Wednesdays", " has not changed its sign in fifty years"],
         [", and ", "; "],
         ["the queue outside is a good place to hear the news.", "most people in {town} know the owner by name.",
          "it is where visitors ask for directions.",
          "the windows are full of notices about lost cats and choir practice."]],
        [["On market days", "Every Thursday", "On the first Saturday of the month"],
         [", farmers from the hills ", ", traders from along the {river} "],
         ["set up their stalls", "bring cheese, eggs and firewood", "fill the square with vans and crates"],
         [" outside {landmark}", " at the top of {street}"],
         [", and the town is louder than at any other time.", ", and the cafés stay open late.",
          ", and parking becomes impossible."]],
        [["Most households in {town}", "Many families on {street}", "Older residents of {town}"],
         [" still keep a vegetable plot", " still bake their own bread on Sundays",
          " still walk to the market rather than drive"],
         [", and ", ", although "],
         ["the allotments by the {river} have a long waiting list.",
          "younger neighbours are slowly catching the habit.",
          "the supermarket on the ring road has changed some of that."]],
        [["The primary school on {street}", "The village hall by {landmark}", "The football pitch below {landmark}"],
         [" was rebuilt by volunteers after the floods of 2007", " was repaired by volunteers in the 1980s",
          " is the busiest place in town on weekday evenings", " hosts most of the town's meetings"],
         [", and "],
         ["there is rarely a quiet night there.", "nobody in {town} lacks an opinion on it.",
          "it doubles as a polling station at elections."]],
        [["A local bus", "A single train a day", "A narrow road over the hills"],
         [" links {town} with the rest of {region}", " connects {town} to the coast"],
         [", and ", ", so "],
         ["most visitors arrive slightly later than planned.", "the town has kept more of its old shops than most.",
          "deliveries of anything large take a week."]],
    ],
    "craft": [
        [["Work as {a_prof}", "The craft of the {prof}", "Life as {a_prof}"],
         [" demands ", " asks for ", " rewards "],
         ["patience", "steady hands", "long hours", "a good memory for detail", "an eye for small faults"],
         [" and ", " as well as "],
         ["a tolerance for cold workshops.", "a willingness to start again.", "years of quiet practice.",
          "a great deal of tea."]],
        [["Few young people", "Only a handful of apprentices", "Fewer families than before"],
         [" in {region}", " in the region", ""],
         [" take up the trade now", " learn the trade these days", " choose this kind of work"],
         [", because ", ", partly because "],
         ["the training is long and the pay is modest.", "the big workshops closed decades ago.",
          "the work rarely makes anyone rich."]],
        [["In the old days", "A century ago", "Before the war"],
         [", every town in {region} had its own {prof}", ", {profs} travelled from farm to farm looking for work",
          ", a {prof} could expect to train for seven years"],
         [", and ", "; "],
         ["that is hard to imagine now.", "the habits of that time still shape the trade.",
          "some of their tools are still in use."]],
        [["Good materials", "Reliable customers", "A dry, well-lit workshop"],
         [" matter more to {a_prof}", " are worth more to {a_prof}"],
         [" than any machine", " than most people imagine", " than a fine shop window"],
         [", as ", ", since "],
         ["every experienced hand in the trade will tell you.", "a single bad batch can cost a month of work.",
          "the work is judged over decades, not days."]],
    ],
    "music": [
        [["Evenings in {town}", "Winter nights in {town}", "Saturday evenings at the inn on {street}"],
         [" often end with music", " are rarely quiet", " usually bring out a few players"],
         [", and ", "; "],
         ["the old dance tunes are still known by heart.", "nobody minds if a tune goes on too long.",
          "a few younger players have started to join in.",
          "the landlord keeps a spare chair by the fire for late arrivals."]],
        [["A small choir", "A brass band", "A group of fiddlers"],
         [" rehearses near {landmark}", " practises every Tuesday above the bakery on {street}",
          " meets in the back room of the inn"],
         [", and ", "; "],
         ["anyone passing can hear them from the street.", "new voices are always welcome.",
          "their summer concert is the town's best-attended event."]],
        [["Music has always mattered in {town}", "Few towns of its size have as many musicians as {town}",
          "Songs about the {river} are still sung in {town}"],
         [", and ", ", so "],
         ["the dance at harvest time still fills the hall.",
          "it is rare to walk down {street} without hearing someone practise.",
          "children learn the old tunes before they can read."]],
    ],
    "quote": [
        [["“I never planned to", "“Nobody in my family expected me to", "“I did not set out to",
          "“It took me years to"],
         [" stay in {town}", " make a living from it", " do this for so long", " take it seriously"],
         [", but ", ", and yet "],
         ["the work kept finding me", "the town would not let me go", "there was always one more order to finish",
          "I liked the quiet of the workshop"],
         [",” {last} said.", ",” said {last}.", ",” {last} told us.", ",” {last} recalled."]],
        [["“People think", "“Visitors assume", "“My friends used to say"],
         [" it is a lonely job", " it is old-fashioned work", " nobody needs this any more"],
         [", but ", ", yet "],
         ["I have never been short of company", "the orders have never stopped",
          "every week someone new knocks on the door"],
         [",” {last} said with a smile.", ",” {first} said.", ",” {first} explained."]],
        [["“The trick", "“The secret", "“What matters most"],
         [" is to keep going on the bad days", " is to listen to older hands", " is never to rush the last step"],
         [", because", ", since"],
         [" nothing good is ever finished in a hurry", " the customers can always tell",
          " the work will outlast all of us"],
         [",” {last} said.", ",” {first} told us.", ",” {last} once said."]],
    ],
    "guide": [
        [["The railway station", "The bus stop by {landmark}", "The car park behind {street}"],
         [" is the easiest place to start", " is where most visitors arrive"],
         [", and ", "; from there "],
         ["the whole town can be walked in an hour.", "the river path leads straight to the square.",
          "a signposted walk covers the main sights."]],
        [["For lunch", "For something warm", "In the afternoon"],
         [", try one of the cafés on {street}", ", head for the inn by the {river}"],
         [", where ", ", since "],
         ["the soup is made fresh every morning.", "the portions are generous and the prices fair.",
          "you can sit by the window and watch the boats."]],
        [["The tourist office", "The small museum", "The public library"],
         [" on {street}", " beside {landmark}"],
         [" has ", " keeps "],
         ["free maps of the walking routes.", "a fine collection of old photographs of {town}.",
          "leaflets about the {trade} trade and its history."]],
        [["Visitors who stay the night", "Walkers who arrive late", "Those with a free evening"],
         [" will find rooms above the inn on {street}", " can book a room at the guest house by {landmark}"],
         [", and ", "; "],
         ["breakfast is served until ten.", "the owners are happy to recommend a walk.",
          "it is wise to book ahead in summer."]],
    ],
    "org": [
        [["The {org}", "Today's {org}"],
         [" was founded", " began"],
         [" in a rented room above a shop", " as a small circle of friends", " after a long dispute over prices",
          " with a loan from a local bank"],
         [", and it ", " and "],
         ["now has members across the region.", "still meets on the first Monday of each month.",
          "keeps its records in a set of green ledgers.", "publishes a short newsletter every season."]],
        [["Membership of the {org}", "Joining the {org}"],
         [" is open to ", " costs little and is open to "],
         ["anyone who works in the trade", "apprentices and masters alike", "retired members of the trade"],
         [", and ", "; "],
         ["new members are welcomed at the spring meeting.", "the annual dinner is the highlight of the year.",
          "a small fund helps members who fall ill."]],
        [["Every spring", "Each autumn", "Once a year"],
         [", the {org}", ", members of the {org}"],
         [" hold an open day", " run a small fair", " organise a trip to another town"],
         [", and ", "; "],
         ["it is the best way to meet new members.", "visitors are always welcome.",
          "the photographs end up in the newsletter."]],
    ],
}

# What context each family needs beyond a town: a substitute family must not need more.
FILLER_NEEDS = {"weather": set(), "town": set(), "life": set(), "guide": set(), "music": set(),
                "craft": {"prof"}, "quote": {"person"}, "org": {"org"}}


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

PERSON_PAGES = {
    "biography": {
        "sites": ["people_index", "regional_lives"],
        "titles": ["{name}", "{name} ({life})"],
        "leads": [
            (["hometown", "birth_year", "profession"],
             "{name} ({life}) {is} {a_prof} from {town}, a small town in {region}, where {last} was born in {year}."),
            (["hometown", "birth_year",
              "profession"], "{name} {is} {a_prof} who was born in {town} in {year}{died}."),
            (["birth_year",
              "profession"], "{name} ({life}) {is} {a_prof} whose work {is} widely known across {region}."),
            (["hometown", "profession"], "{name} {is} {a_prof} and one of the better known natives of {town}."),
        ],
        "facts": {
            "hometown": ["{last} was born in {town}, a market town on the {river}.",
                         "{first} grew up in {town}, in a narrow house on {street}.",
                         "The family of {name} had lived in {town} for several generations, and {last} was born "
                         "there."],
            "birth_year": ["{last} was born in {year}, the youngest of four children.",
                           "Parish records give {last}'s year of birth as {year}.",
                           "{first} was born in {year} and went to the village school by {landmark}."],
            "profession": ["After leaving school, {last} was apprenticed to an older {prof} and learned the trade "
                           "over seven years.",
                           "{last} trained as {a_prof}, a trade that ran in the family.",
                           "By the age of twenty, {first} was working as {a_prof} in a rented workshop on {street}."],
            "instrument": ["Outside work, {last} {plays} the {instrument} and {is} a familiar face at sessions in "
                           "{town}.",
                           "{last} {is} also a capable player of the {instrument}, an interest that began in "
                           "childhood.",
                           "Music {has_been} a second life for {last}, who {plays} the {instrument} in a small "
                           "group that {meets} on {street}."],
            "organisation": ["{last} joined the {org} in {join_year} and {has_been} one of its most active members.",
                             "For most of a long career, {last} {has_worked} for the {org}.",
                             "Much of {last}'s working life {has_been} spent with the {org}, first as an "
                             "apprentice and later as a master."],
        },
        "closings": [("living", "{last} still {lives} in {town} and {keeps} a workshop there."),
                     ("living", "{last} continues to work and to teach younger {profs}."),
                     ("dead", "{last} died in {death_year} at the age of {age}."),
                     ("dead",
                      "{last} died in {death_year}, and a small collection of {last}'s work is kept in {town}.")],
        "plan": [
            (None, ["lead", "filler:town"]),
            ("Early life", ["fact:hometown?", "fact:birth_year?", "filler:life|town"]),
            ("Career", ["fact:profession", "fact:organisation", "filler:craft"]),
            ("Music", ["fact:instrument", "filler:music"]),
            ("Later life|Legacy", ["closing", "filler:quote"]),
        ],
        "required": ["hometown", "birth_year", "profession", "instrument", "organisation"],
    },
    "news": {
        "sites": ["news"],
        "leads": [
            (["profession", "hometown", "organisation"], "living",
             "{town} {prof} honoured by the {org}",
             "A {prof} from {town} has been given the annual medal of the {org} for a lifetime of careful work. "
             "{name} received the medal at a short ceremony at {landmark} on Friday evening."),
            (["profession", "hometown"], "living",
             "Workshop on {street} opens its doors",
             "{name}, {a_prof} who was born and raised in {town}, will open the workshop on {street} to visitors "
             "for the first time next month."),
            (["organisation"], "living",
             "{name} to lead winter talks for the {org}",
             "The {org} has asked {name}, one of its longest-serving members, to lead its winter series of talks."),
            (["profession"], "living",
             "New apprentices for {name}",
             "Two teenagers have started apprenticeships with {name}, {a_prof} who has spent more than {span} "
             "years in the trade."),
            (["profession", "hometown"], "dead",
             "Exhibition remembers {town} {prof}",
             "An exhibition about the life of {name}, the {prof} from {town} who died in {death_year}, opens at "
             "{landmark} this month."),
            (["organisation", "profession"], "dead",
             "Papers of {name} given to the {org}",
             "The family of {name} has given the {org} a large box of letters, drawings and notebooks kept by "
             "the late {prof}."),
            (["profession", "hometown"], "dead",
             "Plaque unveiled for {name}",
             "A blue plaque for {name}, {a_prof} born in {town}, was unveiled on {street} on Saturday in front "
             "of a small crowd."),
        ],
        "facts": {
            "hometown": ["{last} was born in {town} and never moved far from it.",
                         "Born in {town}, {last} {has} always described the place as home.",
                         "Neighbours in {town}, where {last} was born, turned out in numbers."],
            "profession": ["{last} {has_worked} as {a_prof} for more than {span} years.",
                           "{last} learned the {prof}'s trade from an uncle and took over the workshop in "
                           "{join_year}.",
                           "As {a_prof}, {last} {is} known for work that is slow, careful and rarely signed."],
            "organisation": ["{last} {has_been} a member of the {org} since {join_year}.",
                             "A spokesperson for the {org}, where {last} {has_worked} for decades, called the news "
                             "well deserved.",
                             "The {org} said {last} {has_been} one of its most generous members."],
        },
        "closings": ["More details are available from the town office on {street}.",
                     "Tickets are not needed, but the organisers ask visitors to arrive early.",
                     "Several local groups have already said they will attend.",
                     "The Courier will follow the story in a later edition."],
        "plan": [
            (None, ["lead", "fact"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:town", "filler:weather|life"]),
            (None, ["fact?", "filler:craft"]),
            (None, ["closing"]),
        ],
        "required": ["hometown", "profession", "organisation"],
    },
    "interview": {  # living people only: questions in bold, answers in the first person
        "sites": ["makers_quarterly", "crafts_monthly", "folk_review"],
        "titles": ["In the workshop with {name}", "{name} on work, music and {town}", "Meet the {prof}: {name}"],
        "leads": [
            (["profession", "instrument"],
             "{name} is {a_prof} and a fine player of the {instrument}. We spoke in the workshop on a grey "
             "afternoon, "
             "between two deliveries."),
            (["birth_year", "profession"],
             "We met {name} in a cluttered workshop that smells of wood smoke and coffee. Born in {year}, {last} "
             "has been {a_prof} for most of a working life."),
        ],
        "facts": {
            "birth_year": [("Where did it all begin?",
                            "I was born in {year}, the winter the {river} froze over. My parents ran a shop on "
                            "{street}, and I was always in the way."),
                           ("How has the work changed?",
                            "I was born in {year}, so I have seen the trade change a great deal. When I started, "
                            "everything was done by hand and nobody owned a van.")],
            "profession": [("How did you become {a_prof}?",
                            "By accident, really. An old {prof} needed someone to sweep the floor, and I never "
                            "left."),
                           ("What does a working day look like?",
                            "As {a_prof} I start early and stop when the light goes. Most days are quiet, and I "
                            "like it that way.")],
            "instrument": [("You are also known for your music.",
                            "The {instrument} came before any of the work. I still play it most evenings, mostly "
                            "old tunes that my grandmother knew."),
                           ("And the music?",
                            "I have played the {instrument} since I was nine. It is the only thing that empties my "
                            "head after a long day.")],
            "organisation": [("What does the {org} mean to you?",
                              "I joined the {org} young, and it has been a second family ever since."),
                             ("Who helped you along the way?",
                              "The older members of the {org}. They lent me tools, found me customers and told me "
                              "when my work was not good enough.")],
            "hometown": [("Would you ever leave {town}?",
                          "I was born in {town} and I expect to stay. Everything I need is within walking "
                          "distance.")],
        },
        "closings": [("What comes next?",
                      "More of the same, I hope. There are two apprentices to train and a long list of orders."),
                     ("Any advice for beginners?",
                      "Be patient, and buy good tools once rather than cheap tools twice.")],
        "plan": [
            (None, ["lead", "filler:town|weather"]),
            (None, ["fact"]),
            (None, ["fact"]),
            (None, ["filler:craft|life", "filler:music"]),
            (None, ["fact?"]),
            (None, ["closing"]),
        ],
        "required": ["birth_year", "instrument", "profession"],
    },
    "profile": {
        "sites": ["makers_quarterly", "crafts_monthly", "folk_review"],
        "titles": ["The quiet craft of {name}", "{name}: a life in the workshop", "Portrait of {a_prof}: {name}"],
        "leads": [
            (["birth_year", "profession"],
             "{name} was born in {year} into a family with no particular trade, yet {last} {has_become} one of "
             "the most respected {profs} in {region}."),
            (["profession", "instrument"],
             "Ask anyone in the music halls of {region} about {name} and they will mention the {instrument} "
             "before they mention the work as {a_prof}."),
        ],
        "facts": {
            "birth_year": ["{first} arrived in the world in {year}, in a house that is now a bakery.",
                           "Since {last} was born in {year}, the trade {has} changed almost beyond recognition."],
            "profession": ["The work of {a_prof} is rarely seen by the public, and {last} {has} always liked it "
                           "that way.",
                           "{last} took up the life of {a_prof} at sixteen and never seriously considered anything "
                           "else."],
            "instrument": ["The {instrument} {is} never far from {last}'s bench.",
                           "{last} {plays} the {instrument} with the same patience that shows in every piece of "
                           "work."],
            "organisation": ["For decades {last} {has_been} closely tied to the {org}.",
                             "The {org} gave {last} a first job and, later, a seat on its committee."],
        },
        "closings": [("living", "These days {last} works a little less and plays a little more."),
                     ("living", "Asked about retirement, {last} only laughs."),
                     ("dead", "{last} died in {death_year}, and the old workshop on {street} is now a café."),
                     ("dead", "Many of {last}'s pieces are still in use across {region}.")],
        "plan": [
            (None, ["lead", "filler:quote"]),
            (None, ["fact", "fact"]),
            (None, ["filler:craft", "filler:life"]),
            (None, ["fact", "filler:music"]),
            (None, ["fact?", "filler:town"]),
            (None, ["closing"]),
        ],
        "required": ["birth_year", "instrument", "profession", "organisation"],
    },
    "obituary": {  # dead people only
        "sites": ["news", "heritage"],
        "leads": [  # an obituary when the death falls in the years the web covers, else a memorial
            (["hometown", "birth_year", "profession"], "dead_recent", "Obituary: {name}",
             "{name}, who has died at the age of {age}, was born in {town} in {year} and spent a lifetime as "
             "{a_prof}."),
            (["hometown", "birth_year", "profession"], "dead", "Remembering {name}",
             "{name} was born in {town} in {year} and died in {death_year}, after a long life as {a_prof}."),
            (["hometown", "birth_year", "profession"], "dead", "{name}, {prof}, {year}-{death_year}",
             "Born in {town} in {year}, {name} worked as {a_prof} for more than half a century and died in "
             "{death_year}."),
        ],
        "facts": {
            "instrument": ["Friends will remember the sound of {last}'s {instrument} at weddings and wakes across "
                           "{region}.",
                           "{last} played the {instrument} well into old age and taught half the children of "
                           "{street}."],
            "organisation": ["{last} was a member of the {org} for more than forty years.",
                             "At the {org}, {last} was remembered as a generous teacher of younger members."],
        },
        "closings": ["{last} is survived by two nieces and a large circle of friends.",
                     "A memorial gathering will be held at {landmark}.",
                     "{last}'s workshop tools have been given to the town museum."],
        "plan": [
            (None, ["lead", "filler:town"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:craft", "filler:life"]),
            (None, ["fact", "filler:music"]),
            (None, ["closing"]),
        ],
        "required": ["hometown", "birth_year", "profession", "instrument", "organisation"],
    },
    "announcement": {  # living people only, on their organisation's site
        "sites": ["org"],
        "leads": [
            (["organisation", "instrument", "hometown"], "living",
             "Recital: {name} on the {instrument}",
             "The {org} is pleased to announce that {name} will give a recital on the {instrument} at {landmark} "
             "in {town}, the town where {last} was born."),
            (["organisation", "hometown"], "living",
             "{name} joins the board",
             "The {org} is delighted to announce that {name}, a native of {town}, has been elected to its board."),
            (["organisation", "profession"], "living",
             "Open day with {name}",
             "The {org} invites members and friends to an open day in the workshop of {name}, {a_prof} and "
             "long-standing member."),
        ],
        "facts": {
            "instrument": ["{last} has played the {instrument} since childhood and performs several times a year.",
                           "Members who have heard {last} play the {instrument} at our spring dinner will not want "
                           "to miss this."],
            "hometown": ["{last} was born in {town} and still lives a short walk from {landmark}."],
            "organisation": ["{last} has been a member of the {org} since {join_year}."],
        },
        "closings": ["Admission is free, and light refreshments will be served afterwards.",
                     "Members who wish to attend are asked to let the secretary know by the end of the month.",
                     "The event starts at seven o'clock and should finish by nine."],
        "plan": [
            (None, ["lead", "fact"]),
            (None, ["fact", "filler:music"]),
            (None, ["filler:org", "filler:town"]),
            (None, ["fact?", "filler:quote"]),
            (None, ["filler:life", "closing"]),
        ],
        "required": ["organisation", "instrument", "hometown"],
    },
    "travel": {  # living people only, first person, on a travel blog
        "sites": ["slow_roads", "ferry_notes"],
        "titles": ["A slow day in {town}", "Notes from {town}", "{town}: a river, a market and {a_prof}"],
        "leads": [
            (["hometown", "profession"],
             "We reached {town} on the slow train from the coast and, by chance, spent most of the afternoon "
             "with {name}, {a_prof} who was born in the town and has never left."),
            (["profession"],
             "The best hour of our week in {region} was spent in a workshop on {street} in {town}, watching "
             "{name} at work as {a_prof}."),
        ],
        "facts": {
            "instrument": ["In the evening we found {last} again at the inn, playing the {instrument} for a room "
                           "full of neighbours.",
                           "{last} keeps the {instrument} on a hook by the door and played us two tunes before we "
                           "left."],
            "hometown": ["{last} was born in {town} and, as {last} put it, has never found a good reason to leave.",
                         "Born in {town}, {last} seems to know every lane and every family in it."],
            "profession": ["{last} has worked as {a_prof} for most of a lifetime and explained the trade with great "
                           "patience."],
        },
        "closings": ["We left the next morning on the early bus, already planning a return.",
                     "If you pass through {region}, give {town} at least a day.",
                     "The train back was late, but nobody seemed to mind."],
        "plan": [
            (None, ["lead", "filler:weather"]),
            (None, ["filler:town", "fact"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:life", "filler:guide"]),
            (None, ["fact?", "closing"]),
        ],
        "required": ["hometown", "profession", "instrument"],
    },
}


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

# List items are sentences of ~15 words with at most one number: Gopher's "80% of words contain a
# letter" counts punctuation, bullets and years as words, and a list of "Name (1913-2001), born 1904."
# items falls below it (it did: 9 of 75 list pages were dropped with terser items).
TOWN_LIST_ITEMS = [
    (["profession",
      "organisation"], "{name} {is} {a_prof} who {has_worked} for the {org} for most of a long career."),
    (["birth_year",
      "profession"], "{name} was born here in {year} and {has_worked} as {a_prof} ever since leaving school."),
    (["profession", "instrument"], "{name} {is} {a_prof} and {plays} the {instrument} at the inn on most weekends."),
    (["profession", "birth_year",
      "organisation"], "The {prof} {name} was born in this town in {year} and later joined the {org}."),
    (["organisation",
      "instrument"], "{name} {plays} the {instrument} in the town band and {has_worked} for the {org} since leaving "
                     "school."),
    (["birth_year",
      "instrument"], "{name}, who was born in {year}, {is} known to neighbours for playing the {instrument} on "
                     "summer evenings."),
    (["profession"], "{name} learned the trade of {a_prof} from a neighbour and {has} never wanted to work anywhere "
                     "else."),
    (["organisation",
      "profession"], "Long a member of the {org}, {name} {is} one of the town's most respected {profs}."),
]
ORG_LIST_ITEMS = [
    (["profession", "hometown"], "{name} {is} {a_prof} from {town} who joined the {org} as a young apprentice."),
    (["profession"], "{name} joined us after training as {a_prof} in a workshop not far from {landmark}."),
    (["hometown", "instrument"], "{name} {is} from {town} and {plays} the {instrument} at our summer dinners."),
    (["birth_year",
      "profession"], "{name} was born in {year} and came to us as a young {prof} with a letter of introduction."),
    (["instrument"], "{name} {plays} the {instrument} and {is} usually the first to arrive at our spring meeting."),
    (["hometown",
      "profession"], "{name} came to every meeting from {town} and {is} one of our most experienced {profs}."),
    (["birth_year"], "{name} was born in {year} and {has_been} a member for longer than most of us can remember."),
    (["hometown"], "{name} brought the first members from {town} into our society many years ago."),
]
REGISTER_ITEMS = [
    (["hometown",
      "birth_year"], "{name} of {town} was born in {year} and was entered in the register as a young apprentice."),
    (["hometown"], "{name} {has_worked} from a workshop on {street} in the town of {town} for many years."),
    (["organisation"], "{name} was registered through the {org}, which vouched for the quality of the work."),
    (["organisation", "hometown"], "{name} {is} a member of the {org} and trades from a small workshop in {town}."),
    (["birth_year"], "{name}, born in {year}, was first registered after passing the examination of the trade."),
    (["hometown",
      "instrument"], "{name} of {town} is also listed by the music society as a player of the {instrument}."),
    (["organisation", "birth_year"], "{name} was born in {year} and was put forward for the register by the {org}."),
    (["hometown"], "{name} has been listed in the register under the town of {town} since the first edition."),
]
LIST_PAGE_SIZE = 8  # longer lists continue on a second page: no item template repeats within a page
EVENT_ITEMS = [
    (["hometown", "instrument"], "{name}, who was born in {town}, opened the evening on the {instrument}."),
    (["instrument"], "Later, {name} played the {instrument}, a set of slow airs that silenced the room."),
    (["profession", "instrument"], "{name}, {a_prof} by day, brought out the {instrument} for a set of reels."),
    (["hometown",
      "instrument"], "The loudest applause of the night went to {name} from {town} and the {instrument}."),
]


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

PROFESSIONS_XX = {  # English -> (German, French, Spanish)
    "glassblower": ("Glasbläser", "souffleur de verre", "soplador de vidrio"),
    "cartographer": ("Kartograf", "cartographe", "cartógrafo"),
    "beekeeper": ("Imker", "apiculteur", "apicultor"),
    "clockmaker": ("Uhrmacher", "horloger", "relojero"),
    "bookbinder": ("Buchbinder", "relieur", "encuadernador"),
    "luthier": ("Geigenbauer", "luthier", "lutier"),
    "stonemason": ("Steinmetz", "tailleur de pierre", "cantero"),
    "ferry pilot": ("Fährmann", "passeur", "barquero"),
    "botanist": ("Botaniker", "botaniste", "botánico"),
    "lighthouse keeper": ("Leuchtturmwärter", "gardien de phare", "farero"),
    "potter": ("Töpfer", "potier", "alfarero"),
    "weaver": ("Weber", "tisserand", "tejedor"),
    "blacksmith": ("Schmied", "forgeron", "herrero"),
    "land surveyor": ("Landvermesser", "géomètre", "agrimensor"),
    "astronomer": ("Astronom", "astronome", "astrónomo"),
    "archivist": ("Archivar", "archiviste", "archivero"),
    "cheesemaker": ("Käser", "fromager", "quesero"),
    "boatbuilder": ("Bootsbauer", "charpentier de marine", "carpintero de ribera"),
    "perfumer": ("Parfümeur", "parfumeur", "perfumista"),
    "bellfounder": ("Glockengießer", "fondeur de cloches", "fundidor de campanas"),
}
INSTRUMENTS_XX = {  # English -> (German, French "jouer ...", Spanish "tocar ...")
    "cello": ("Cello", "du violoncelle", "el violonchelo"),
    "oboe": ("Oboe", "du hautbois", "el oboe"),
    "accordion": ("Akkordeon", "de l'accordéon", "el acordeón"),
    "harp": ("Harfe", "de la harpe", "el arpa"),
    "bassoon": ("Fagott", "du basson", "el fagot"),
    "fiddle": ("Geige", "du violon", "el violín"),
    "mandolin": ("Mandoline", "de la mandoline", "la mandolina"),
    "flute": ("Flöte", "de la flûte", "la flauta"),
    "banjo": ("Banjo", "du banjo", "el banjo"),
    "clarinet": ("Klarinette", "de la clarinette", "el clarinete"),
    "hurdy-gurdy": ("Drehleier", "de la vielle à roue", "la zanfona"),
    "dulcimer": ("Hackbrett", "du tympanon", "el salterio"),
    "trombone": ("Posaune", "du trombone", "el trombón"),
    "viola": ("Bratsche", "de l'alto", "la viola"),
    "concertina": ("Konzertina", "du concertina", "la concertina"),
}
LANGUAGE_INDEX = {"de": 0, "fr": 1, "es": 2}

# Tense words per language: (living, dead).
TENSES_XX = {
    "de": {"arbeitet": ("arbeitet seit vielen Jahren", "arbeitete viele Jahre"), "spielt": ("spielt", "spielte"),
           "liegt": ("liegt", "lag"), "sagt": ("sagt", "sagte")},
    "fr": {"travaille": ("travaille depuis de nombreuses années", "a travaillé pendant de nombreuses années"),
           "joue": ("joue", "jouait"), "se_trouve": ("se trouve", "se trouvait"), "dit": ("dit", "disait")},
    "es": {"trabaja": ("trabaja desde hace muchos años", "trabajó durante muchos años"), "toca": ("toca", "tocaba"),
           "esta": ("está", "estaba"), "dice": ("dice", "decía")},
}

# (attributes stated, sentence). A page uses every fact sentence it draws plus fillers ([]).
SENTENCES_XX = {
    "de": [
        (["hometown", "birth_year",
          "profession"], "{name} wurde {year} in {town} geboren und {arbeitet} als {prof}."),
        (["organisation"], "In {town} kennt man {last} vor allem durch die Arbeit für die {org}."),
        (["instrument"], "In der Freizeit {spielt} {last} {instrument}, am liebsten abends mit Freunden in einer "
                         "kleinen Gaststätte am Marktplatz."),
        (["hometown"], "Die Werkstatt {liegt} in einer ruhigen Seitenstraße von {town}, nicht weit vom Fluss "
                       "{river}."),
        (["birth_year"], "Geboren wurde {first} im Jahr {year}, in einem schmalen Haus in der Nähe der alten "
                         "Brücke."),
        (["instrument"], "Wer {last} einmal {instrument} spielen gehört hat, vergisst das so schnell nicht."),
        (["organisation"], "Im kommenden Frühjahr plant die {org} ein Fest zu Ehren von {last}."),
        ([], "Das Wetter war an diesem Tag grau und kühl, und auf dem Marktplatz standen nur wenige Stände."),
        ([], "„Ich hätte nie gedacht, dass ich so lange hierbleiben würde“, {sagt} {last} und lacht."),
        ([], "Die Stadt {town} liegt in der Region {region} und war früher ein wichtiger Marktort für die ganze "
             "Gegend."),
        ([], "Viele junge Leute ziehen heute in die großen Städte, doch {last} wollte nie von hier weg."),
        ([], "Wer mehr über die Geschichte des Handwerks erfahren möchte, findet im Heimatmuseum von {town} eine "
             "kleine Ausstellung."),
        ([], "Am Abend füllte sich die kleine Kneipe am Hafen, und bis spät in die Nacht wurde Musik gemacht."),
        ([], "Die Nachfrage nach handgemachten Dingen ist in den letzten Jahren wieder gestiegen, berichten viele "
             "Handwerker in der Region."),
        ([], "Eine Lehre in diesem Beruf dauert mehrere Jahre, und nur wenige junge Menschen entscheiden sich noch "
             "dafür."),
    ],
    "fr": [
        (["hometown", "birth_year",
          "profession"], "{name} a vu le jour à {town} en {year} et {travaille} comme {prof}."),
        (["organisation"], "À {town}, on connaît surtout {last} pour son travail au sein de la {org}."),
        (["instrument"], "Pendant son temps libre, {last} {joue} {instrument}, le plus souvent le soir avec des "
                         "amis dans un petit café de la place du marché."),
        (["hometown"], "L'atelier {se_trouve} dans une rue calme de {town}, non loin de la rivière {river}."),
        (["birth_year"], "{first} a vu le jour en {year}, dans une maison étroite près du vieux pont."),
        (["instrument"], "Quiconque a entendu {last} jouer {instrument} ne l'oublie pas de sitôt."),
        (["organisation"], "Au printemps prochain, la {org} prévoit une fête en l'honneur de {last}."),
        ([], "Ce jour-là, le temps était gris et frais, et il n'y avait que quelques étals sur la place "
             "du marché."),
        ([], "« Je n'aurais jamais cru rester ici aussi longtemps », {dit} {last} en riant."),
        ([], "La ville de {town} se situe dans la région de {region} et fut autrefois un marché important pour "
             "toute la contrée."),
        ([], "Beaucoup de jeunes partent aujourd'hui vers les grandes villes, mais {last} n'a jamais voulu quitter "
             "le pays."),
        ([], "Ceux qui veulent en savoir plus sur l'histoire de l'artisanat trouveront une petite exposition au "
             "musée de {town}."),
        ([], "Le soir, le petit bistrot du port s'est rempli, et la musique a duré jusque tard dans la nuit."),
        ([], "La demande d'objets faits à la main a de nouveau augmenté ces dernières années, selon de nombreux "
             "artisans de la région."),
        ([], "Un apprentissage dans ce métier dure plusieurs années, et peu de jeunes choisissent encore cette "
             "voie."),
    ],
    "es": [
        (["hometown", "birth_year",
          "profession"], "{name} vino al mundo en {town} en {year} y {trabaja} como {prof}."),
        (["organisation"], "En {town}, todos conocen a {last} por su trabajo en la {org}."),
        (["instrument"], "En su tiempo libre, {last} {toca} {instrument}, casi siempre por la noche con amigos en "
                         "un pequeño bar de la plaza."),
        (["hometown"], "El taller {esta} en una calle tranquila de {town}, no muy lejos del río {river}."),
        (["birth_year"], "{first} nació en {year}, en una casa estrecha cerca del puente viejo."),
        (["instrument"], "Quien ha escuchado a {last} tocar {instrument} no lo olvida fácilmente."),
        (["organisation"], "La próxima primavera, la {org} prepara una fiesta en honor de {last}."),
        ([], "Aquel día el tiempo era gris y fresco, y en la plaza del mercado apenas había puestos."),
        ([], "«Nunca pensé que me quedaría aquí tanto tiempo», {dice} {last} entre risas."),
        ([], "La ciudad de {town} se encuentra en la región de {region} y fue en otro tiempo un mercado importante "
             "para toda la comarca."),
        ([], "Hoy muchos jóvenes se marchan a las grandes ciudades, pero {last} nunca quiso irse."),
        ([], "Quien quiera saber más sobre la historia del oficio encontrará una pequeña exposición en el museo de "
             "{town}."),
        ([], "Por la noche, el pequeño bar del puerto se llenó y la música siguió hasta muy tarde."),
        ([], "La demanda de objetos hechos a mano ha vuelto a crecer en los últimos años, según muchos artesanos "
             "de la región."),
        ([], "El aprendizaje de este oficio dura varios años, y pocos jóvenes eligen todavía este camino."),
    ],
}
TITLES_XX = {
    "de": ["{name}: Ein Leben als {prof}", "Zu Besuch bei {name} in {town}", "{town}: Porträt von {name}"],
    "fr": ["{name} : une vie de {prof}", "Visite chez {name} à {town}", "{town} : portrait de {name}"],
    "es": ["{name}: una vida de {prof}", "De visita en casa de {name} en {town}", "{town}: retrato de {name}"],
}
SITES_XX = {
    "de": [("Nordmark Anzeiger", "nordmark-anzeiger.example.com"), ("Handwerk Heute", "handwerk-heute.example.com")],
    "fr": [("Le Courrier du Nord", "courrier-du-nord.example.com"), ("Artisans d'ici", "artisans-dici.example.org")],
    "es": [("El Diario del Valle", "diario-del-valle.example.com"), ("Oficios y Gentes",
                                                                     "oficios-y-gentes.example.org")],
}


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
SPAM_PRODUCTS = ["watches", "sneakers", "phone cases", "headphones", "sunglasses", "handbags", "gift cards",
                 "jackets"]
SPAM_PHRASES = ["cheap {p}", "best price", "buy {p} online", "cheap deals", "best {p}", "discount {p}", "{p} sale",
                "lowest price", "free shipping", "top {p} outlet"]
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


PII_SENTENCES = {
    "emails": ["You can reach the editor at {x}.", "Letters about this story can be sent to {x}.",
               "Anyone with old photographs to share can write to {x}.", "Questions about the event go to {x}."],
    "ips": ["For most of Tuesday the booking server at {x} was down, and calls went unanswered.",
            "The society's old mailing list still runs on a machine at {x}, looked after by a volunteer.",
            "While the domain was being moved, the site could only be reached at its raw address, {x}."],
    "phones": ["Call the office at {x} to book a place.", "Tickets are sold at the door or by phone on {x}.",
               "The workshop takes orders on {x} on weekday mornings.", "For directions, ring {x} before noon."],
}


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

BOILERPLATE = {
    "en": {"cookie": "We use cookies to improve your experience on our site. By continuing to browse, you agree to "
                     "our use of cookies.",
           "accept": "Accept all", "settings": "Cookie settings", "search": "Search", "most_read": "Most read",
           "newsletter": "Get our weekly newsletter in your inbox.", "subscribe": "Subscribe",
           "rights": "All rights reserved.", "privacy": "Privacy Policy", "terms": "Terms of Use",
           "contact": "Contact", "by": "By", "share": "Share this article", "posted": "Posted on",
           "comments": "Comments", "nav": NAV_EN},
    "de": {"cookie": "Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis auf unserer Website zu bieten.",
           "accept": "Alle akzeptieren", "settings": "Einstellungen", "search": "Suche", "most_read": "Meistgelesen",
           "newsletter": "Unser Newsletter erscheint jede Woche.", "subscribe": "Abonnieren",
           "rights": "Alle Rechte vorbehalten.", "privacy": "Datenschutz", "terms": "Nutzungsbedingungen",
           "contact": "Kontakt", "by": "Von", "share": "Artikel teilen", "posted": "Veröffentlicht am",
           "comments": "Kommentare", "nav": ["Startseite", "Nachrichten", "Region", "Kultur", "Handwerk", "Kontakt"]},
    "fr": {"cookie": "Nous utilisons des cookies pour améliorer votre expérience sur notre site.",
           "accept": "Tout accepter", "settings": "Paramètres", "search": "Rechercher", "most_read": "Les plus lus",
           "newsletter": "Recevez notre lettre d'information chaque semaine.", "subscribe": "S'abonner",
           "rights": "Tous droits réservés.", "privacy": "Politique de confidentialité",
           "terms": "Conditions d'utilisation", "contact": "Contact", "by": "Par", "share": "Partager cet article",
           "posted": "Publié le", "comments": "Commentaires",
           "nav": ["Accueil", "Actualités", "Région", "Culture", "Métiers", "Contact"]},
    "es": {"cookie": "Utilizamos cookies para mejorar su experiencia en nuestro sitio.",
           "accept": "Aceptar todo", "settings": "Configuración", "search": "Buscar", "most_read": "Lo más leído",
           "newsletter": "Reciba nuestro boletín cada semana.", "subscribe": "Suscribirse",
           "rights": "Todos los derechos reservados.", "privacy": "Política de privacidad",
           "terms": "Condiciones de uso", "contact": "Contacto", "by": "Por", "share": "Compartir este artículo",
           "posted": "Publicado el", "comments": "Comentarios",
           "nav": ["Inicio", "Noticias", "Región", "Cultura", "Oficios", "Contacto"]},
}
AUTHORS = ["Martha Hale", "Owen Pritchard", "Clara Bennet", "Tobias Lind", "Ruth Acheson", "Samuel Dray",
           "Ines Carver", "Jonah Wells", "Greta Holm", "Felix Marsh", "Nora Quaile", "Pip Ellery"]
BLOG_COMMENTS = ["Lovely post, thank you for sharing.", "We stayed there last year and loved it!",
                 "Great photos as always.", "Adding this to my list for the summer.", "Thanks, very helpful."]


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
SWAPS = [("small", "little"), ("old", "ancient"), ("quiet", "calm"), ("long", "lengthy"), ("said", "explained"),
         ("work", "craft"), ("early", "soon"), ("careful", "meticulous"), ("great", "huge"), ("best", "finest"),
         ("busy", "crowded"), ("narrow", "tight")]
ADDED_SENTENCES = ["This story first appeared elsewhere and is reproduced here with permission.",
                   "Some details have been updated since the piece was first published.",
                   "Readers have since written in with more memories of those years."]
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
