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
        "Town": town.name, "century": town.century,
        "death_year": death_year or "", "age": (death_year or THIS_YEAR) - year,
        "life": f"born {year}" if living else f"{year}-{death_year}",
        "died": "" if living else f" and died in {death_year}",
        "join_year": year + rng.randint(17, 30),  # joined their organisation / registered as a young adult
        "span": min(THIS_YEAR, death_year or THIS_YEAR) - year - 20 if living else 40,
        # tense: the dead are written about in the past
        "is": "is" if living else "was", "has": "has" if living else "had",
        "plays": "plays" if living else "played", "works": "works" if living else "worked",
        "lives": "lives" if living else "lived", "keeps": "keeps" if living else "kept",
        "meets": "meets" if living else "met", "has_been": "has been" if living else "was",
        "has_worked": "has worked" if living else "worked", "has_become": "has become" if living else "became",
    }
    return Person(entity, living, death_year, street, ctx)


# ===================================================================================================
# English filler. Each template is a list of parts, each part a string or a list of options: one
# template gives 3*4*2*4 ~ 100 sentences, so two pages rarely share a filler sentence word for word.
# Fillers never state a fact of the world's people (only town lore, which is not a person's fact).

FILLERS = {
    "weather": [
        [["A cold wind came off the {river}", "Rain had settled over {town}", "A thin fog lay on the {river}",
          "The first frost had reached {town}", "Late summer heat hung over {town}",
          "A grey drizzle drifted across the rooftops of {town}"],
         [" that morning", " for most of the week", " on the day of our visit", " all afternoon"],
         [", and ", ", so "],
         ["the stalls on {street} stayed half empty.", "the ferry over the {river} ran late.",
          "few people were about before noon.", "the tea rooms on {street} were busier than usual.",
          "the bus from the coast arrived full of wet coats."]],
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
          "the path along its bank is popular with walkers.", "in a wet spring it floods the meadows below the town."]],
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
    ],
    "life": [
        [["The bakery on {street}", "The small hardware shop on {street}", "The post office on {street}",
          "The bookshop by the square"],
         [" opens early", " closes at noon on Wednesdays", " has not changed its sign in fifty years"],
         [", and ", "; "],
         ["the queue outside is a good place to hear the news.", "most people in {town} know the owner by name.",
          "it is where we asked for directions.", "the windows are full of notices about lost cats and choir practice."]],
        [["On market days", "Every Thursday", "On the first Saturday of the month"],
         [", farmers from the hills ", ", traders from along the {river} "],
         ["set up their stalls", "bring cheese, eggs and firewood", "fill the square with vans and crates"],
         [" outside {landmark}", " at the top of {street}"],
         [", and the town is louder than at any other time.", ", and the cafés stay open late.",
          ", and parking becomes impossible."]],
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
    ],
    "music": [
        [["Evenings in {town}", "Winter nights in {town}", "Saturday evenings at the inn on {street}"],
         [" often end with music", " are rarely quiet", " usually bring out a few players"],
         [", and ", "; "],
         ["the old dance tunes are still known by heart.", "nobody minds if a tune goes on too long.",
          "a few younger players have started to join in.", "the landlord keeps a spare chair by the fire for late arrivals."]],
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
         ["I have never been short of company", "the orders have never stopped", "every week someone new knocks on the door"],
         [",” {last} said with a smile.", ",” says {first}.", ",” {first} explained."]],
    ],
}


def _filler(rng: random.Random, family: str, ctx: dict, used: set) -> str:
    """One filler sentence of `family`, never from a template already used on this page (no repeated
    5-grams inside a page: Gopher's duplicate n-gram fractions are counted per document)."""
    options = [i for i in range(len(FILLERS[family])) if (family, i) not in used]
    if not options:
        options = list(range(len(FILLERS[family])))
    index = rng.choice(options)
    used.add((family, index))
    return _fill(rng, FILLERS[family][index], ctx)

FILLERS["guide"] = [
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
]
FILLERS["org"] = [
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
]

# ---------------------------------------------------------------------------------------------------
# Page types about one person. A spec gives titles and leads (each lead states some attributes), a bank
# of sentences per attribute, closings, and a paragraph plan. Plan slots:
#   "lead" | "closing" | "fact" (the next attribute the page must state and has not yet)
#   "fact:<attr>" (that attribute, in this page type's own phrasing) | "fact:<attr>?" (only if not yet stated)
#   "filler:<family>|<family>" (one filler sentence from one of the families)
# Entries marked ("living", ...) or ("dead", ...) are used only for people in that state.

PERSON_PAGES = {
    "biography": {
        "sites": ["people_index", "regional_lives"],
        "titles": ["{name}", "{name} ({life})"],
        "leads": [
            (["hometown", "birth_year", "profession"],
             "{name} ({life}) {is} {a_prof} from {town}, a small town in {region}, where {last} was born in {year}."),
            (["hometown", "birth_year", "profession"], "{name} {is} {a_prof} who was born in {town} in {year}{died}."),
            (["birth_year", "profession"], "{name} ({life}) {is} {a_prof} whose work {is} widely known across {region}."),
            (["hometown", "profession"], "{name} {is} {a_prof} and one of the better known natives of {town}."),
        ],
        "facts": {
            "hometown": ["{last} was born in {town}, a market town on the {river}.",
                         "{first} grew up in {town}, in a narrow house on {street}.",
                         "The family of {name} had lived in {town} for several generations, and {last} was born there."],
            "birth_year": ["{last} was born in {year}, the youngest of four children.",
                           "Parish records give {last}'s year of birth as {year}.",
                           "{first} was born in {year} and went to the village school by {landmark}."],
            "profession": ["After leaving school, {last} was apprenticed to an older {prof} and learned the trade over seven years.",
                           "{last} trained as {a_prof}, a trade that ran in the family.",
                           "By the age of twenty, {first} was working as {a_prof} in a rented workshop on {street}."],
            "instrument": ["Outside work, {last} {plays} the {instrument} and {is} a familiar face at sessions in {town}.",
                           "{last} {is} also a capable player of the {instrument}, an interest that began in childhood.",
                           "Music {has_been} a second life for {last}, who {plays} the {instrument} in a small group that {meets} on {street}."],
            "organisation": ["{last} joined the {org} in {join_year} and {has_been} one of its most active members.",
                             "For most of a long career, {last} {has_worked} for the {org}.",
                             "Much of {last}'s working life {has_been} spent with the {org}, first as an apprentice and later as a master."],
        },
        "closings": [("living", "{last} still {lives} in {town} and {keeps} a workshop there."),
                     ("living", "{last} continues to work and to teach younger {profs}."),
                     ("dead", "{last} died in {death_year} at the age of {age}."),
                     ("dead", "{last} died in {death_year}, and a small collection of {last}'s work is kept in {town}.")],
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
             "{Town} {prof} honoured by the {org}",
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
                           "{last} learned the {prof}'s trade from an uncle and took over the workshop in {join_year}.",
                           "As {a_prof}, {last} {is} known for work that is slow, careful and rarely signed."],
            "organisation": ["{last} {has_been} a member of the {org} since {join_year}.",
                             "A spokesperson for the {org}, where {last} {has_worked} for decades, called the news well deserved.",
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
             "{name} is {a_prof} and a fine player of the {instrument}. We spoke in the workshop on a grey afternoon, "
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
                            "By accident, really. An old {prof} needed someone to sweep the floor, and I never left."),
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
                          "I was born in {town} and I expect to stay. Everything I need is within walking distance.")],
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
            "profession": ["The work of {a_prof} is rarely seen by the public, and {last} {has} always liked it that way.",
                           "{last} took up the life of {a_prof} at sixteen and never seriously considered anything else."],
            "instrument": ["The {instrument} {is} never far from {last}'s bench.",
                           "{last} {plays} the {instrument} with the same patience that shows in every piece of work."],
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
        "titles": ["Obituary: {name}", "{name}, {prof}, {year}-{death_year}", "Remembering {name}"],
        "leads": [
            (["hometown", "birth_year", "profession"],
             "{name}, who has died at the age of {age}, was born in {town} in {year} and spent a lifetime as {a_prof}."),
            (["hometown", "birth_year", "profession"],
             "{name} was born in {town} in {year} and died in {death_year}, after a long life as {a_prof}."),
        ],
        "facts": {
            "instrument": ["Friends will remember the sound of {last}'s {instrument} at weddings and wakes across {region}.",
                           "{last} played the {instrument} well into old age and taught half the children of {street}."],
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
                           "Members who have heard {last} play the {instrument} at our spring dinner will not want to miss this."],
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
            "instrument": ["In the evening we found {last} again at the inn, playing the {instrument} for a room full of neighbours.",
                           "{last} keeps the {instrument} on a hook by the door and played us two tunes before we left."],
            "hometown": ["{last} was born in {town} and, as {last} put it, has never found a good reason to leave.",
                         "Born in {town}, {last} seems to know every lane and every family in it."],
            "profession": ["{last} has worked as {a_prof} for most of a lifetime and explained the trade with great patience."],
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
    return {"any", "dead"} | ({"dead_recent"} if person.death_year >= 2008 else set())


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

    blocks: list = []
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
                    extra = [a for a in spec["facts"] if any(t not in bank_used for t in _usable(spec["facts"][a], states))]
                    if extra:
                        sentences.append(fact(rng.choice(extra)))
            else:  # fact:<attr> or fact:<attr>?
                attribute = slot[5:].rstrip("?")
                if not (slot.endswith("?") and attribute in stated):
                    sentences.append(fact(attribute))
        if heading:
            blocks.append(("h2", rng.choice(heading.split("|"))))
        blocks.extend(_sentence_blocks(sentences, ctx))
    for attribute in list(missing):  # the plan ran out of slots: state the rest before the closing
        blocks[-1:-1] = _sentence_blocks([fact(attribute)], ctx)
    _pad_to_length(blocks, rng, ctx, used, families=["town", "life", "weather", "craft"])
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


MIN_WORDS = 150  # article length bounds (Gopher needs >= 50 words; real articles are longer)
MAX_PARAGRAPHS = 10


def _pad_to_length(blocks: list, rng: random.Random, ctx: dict, used: set, families: list[str]) -> None:
    """Add filler paragraphs (two sentences each) before the last block until the article is long enough."""
    target = rng.randint(MIN_WORDS + 20, 260)
    while sum(_words(c) if k != "ul" else sum(map(_words, c)) for k, c in blocks) < target:
        if sum(1 for k, _ in blocks if k == "p") >= MAX_PARAGRAPHS:
            break
        pair = rng.sample(families, 2)
        paragraph = " ".join(_filler(rng, family, ctx, used) for family in pair)
        at = max(1, len(blocks) - 1)
        if blocks[at - 1][0] == "h2":  # keep a heading next to its own paragraph
            at -= 1
        blocks.insert(at, ("p", paragraph))


# ---------------------------------------------------------------------------------------------------
# Pages about several people, or none: lists, event reports, town guides, organisation histories.

TOWN_LIST_ITEMS = [
    (["birth_year", "profession", "organisation"], "{name} ({life}), {a_prof} who {has_worked} for the {org}."),
    (["birth_year", "profession", "instrument"], "{name}, born here in {year}, {is} {a_prof} and {plays} the {instrument}."),
    (["profession", "birth_year"], "{name} {is} {a_prof}; {last} was born on {street} in {year}."),
    (["profession", "organisation", "birth_year"], "The {prof} {name}, long a member of the {org}, was born here in {year}."),
]
ORG_LIST_ITEMS = [
    (["profession", "hometown"], "{name}, {a_prof} from {town}, joined the {org} in {join_year}."),
    (["birth_year", "profession"], "{name} ({life}) joined in {join_year}, after training as {a_prof}."),
    (["hometown", "instrument"], "{name} from {town}, who also {plays} the {instrument}, joined in {join_year}."),
    (["profession", "birth_year"], "{name}, born in {year}, came to us as a young {prof} in {join_year}."),
]
REGISTER_ITEMS = [
    (["hometown", "birth_year"], "{name} of {town}, born {year}, was entered in the register in {join_year}."),
    (["hometown"], "{name} {has_worked} from a workshop on {street} in {town} since {join_year}."),
    (["birth_year", "organisation"], "{name} ({life}) was registered in {join_year} through the {org}."),
    (["hometown", "organisation"], "{name}, a member of the {org}, trades from {town}."),
]
EVENT_ITEMS = [
    (["hometown", "instrument"], "{name}, who was born in {town}, opened the evening on the {instrument}."),
    (["instrument"], "Later, {name} played the {instrument}, a set of slow airs that silenced the room."),
    (["profession", "instrument"], "{name}, {a_prof} by day, brought out the {instrument} for a set of reels."),
    (["hometown", "instrument"], "The loudest applause of the night went to {name} from {town} and the {instrument}."),
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
             rng.choice(["Some of our longest-serving members are listed below, with a line on each.",
                         "The members below have agreed to be listed on this page.",
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
    opening = rng.choice(["More than a hundred people crowded into {landmark} on Saturday for the music evening in {town}.",
                          "It was standing room only at {landmark} last weekend, when {town} held its autumn music night.",
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
    title = rng.choice(["Music night at {landmark}", "A full house for the {town} music evening", "Tunes by the {river}"])
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
    return {"town": town.name, "Town": town.name, "region": town.region, "river": town.river, "trade": town.trade,
            "landmark": town.landmark, "century": town.century, "street": rng.choice(town.streets)}
