"""A small fictional world, built from a seed: people with a handful of facts each.

Every later stage reads facts from here: the mini-web renders them as pages (pretraining), SFT asks
about them, and the "I don't know" stage asks about the `reserved` people, who are generated the same
way but never written anywhere in the corpus.

Names are built from syllables ("Velmora Quist") so that they carry no real-world knowledge, and every
first name and every surname is used once in the whole world: a surname alone points at one person,
and a reserved person shares no part of their name with anyone the corpus talks about.

Fact values come from small closed pools (30 towns, 20 professions, 15 instruments, 25 organisations,
100 birth years) so that a 4-way multiple-choice question can draw 3 distractors from the same pool.

Pure standard library: importing this module must stay instant (the CLI imports it at start-up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------------
# Value pools. Order matters: with a fixed seed the same index gives the same world.

TOWNS = [
    "Dalrun", "Ostmere", "Quellby", "Tarnvale", "Brindlemoor", "Caskhollow", "Vennford", "Marrowick",
    "Lindqvale", "Skarrow", "Thistlebeck", "Wendmoor", "Orrinport", "Fallowmere", "Brackenhurl",
    "Ivelstow", "Rookmere", "Sallowby", "Cindervale", "Yarrowend", "Kestrelholm", "Morvent",
    "Halvering", "Drossfield", "Emberlin", "Ulvercote", "Quarnby", "Pennisk", "Gallowick", "Harnmouth",
]

PROFESSIONS = [
    "glassblower", "cartographer", "beekeeper", "clockmaker", "bookbinder", "luthier", "stonemason",
    "ferry pilot", "botanist", "lighthouse keeper", "potter", "weaver", "blacksmith", "land surveyor",
    "astronomer", "archivist", "cheesemaker", "boatbuilder", "perfumer", "bellfounder",
]

INSTRUMENTS = [
    "cello", "oboe", "accordion", "harp", "bassoon", "fiddle", "mandolin", "flute", "banjo",
    "clarinet", "hurdy-gurdy", "dulcimer", "trombone", "viola", "concertina",
]

# Written without a leading "the"; prose adds it ("works for the Brassleaf Cooperative").
ORGANISATIONS = [
    "Brassleaf Cooperative", "Copper Lantern Guild", "Greywater Archive Trust", "Northmark Ferry Company",
    "Velden Instrument Works", "Ashcombe Makers Guild", "Harrowind Trading Company", "Saltmarch Society",
    "Thornwick Observatory Trust", "Lowmere Weavers Union", "Emberfield Glassworks", "Kettlewyn Press",
    "Orrin Valley Beekeepers Association", "Stillwater Survey Office", "Duskmoor Foundry",
    "Quillon Heritage Society", "Marrowdene Boatyard", "Fennick Cheese Cooperative", "Redwyn Bell Foundry",
    "Halcyon Coast Lighthouse Board", "Gildmoor Botanical Society", "Ravelstone Masons Lodge",
    "Silkmere Perfumery", "Oakhallow Clockmakers Guild", "Wyrmbridge Pottery Collective",
]

BIRTH_YEARS = [str(year) for year in range(1900, 2000)]

ATTRIBUTES: dict[str, str] = {
    "hometown": "the town they were born in",
    "profession": "their trade or profession",
    "birth_year": "the year they were born",
    "instrument": "the musical instrument they play",
    "organisation": "the organisation they work or worked for",
}

_POOLS: dict[str, list[str]] = {
    "hometown": TOWNS,
    "profession": PROFESSIONS,
    "birth_year": BIRTH_YEARS,
    "instrument": INSTRUMENTS,
    "organisation": ORGANISATIONS,
}


def pool(attribute: str) -> list[str]:
    """All possible values of `attribute` (a copy: distractors for multiple choice come from here)."""
    if attribute not in _POOLS:
        raise KeyError(f"unknown attribute {attribute!r}; known: {', '.join(ATTRIBUTES)}")
    return list(_POOLS[attribute])


# ---------------------------------------------------------------------------------------------------
# Name syllables: 30 x 16 first names and 32 x 16 surnames, so a world holds up to ~480 people (the
# default has 220: 120 covered, 100 reserved) with no name part used twice. Syllables were picked to
# avoid real words and anything a URL word filter could match once names become URL slugs.

_FIRST_HEADS = [
    "Vel", "Mor", "Tal", "Ris", "Or", "Bel", "Quen", "Sil", "Dar", "En", "Lir", "Fen", "Ys", "Cor",
    "Mav", "Thal", "Ner", "Iv", "Ser", "Kel", "Ash", "Bram", "El", "Rho", "Tam", "Zeb", "Ul", "Wen",
    "Jor", "Pel",
]
_FIRST_TAILS = [
    "mora", "ric", "wyn", "ella", "dael", "ian", "sa", "vin", "eth", "ora", "and", "ael", "ko", "ly",
    "ren", "isa",
]
_LAST_HEADS = [
    "Qu", "Harr", "Tob", "Venn", "Ost", "Brem", "Cal", "Drin", "Fal", "Gorm", "Hask", "Lunt", "Mirr",
    "Pell", "Rost", "Skell", "Thorn", "Varr", "Wick", "Yarl", "Brisk", "Dunn", "Kest", "Orm", "Ald", "Bran",
    "Cresk", "Eld", "Jask", "Nold", "Sarn", "Tresk",
]
_LAST_TAILS = [
    "ist", "owind", "rad", "mere", "stone", "ley", "ett", "by", "worth", "ane", "ock", "iss", "ander",
    "holm", "urst", "eck",
]


@dataclass
class Entity:
    id: str  # "e0007": stable across runs with the same seed
    name: str  # "Velmora Quist"
    kind: str  # "person"
    facts: dict[str, str] = field(default_factory=dict)  # attribute -> value, keys as in ATTRIBUTES

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        return self.name.split(" ", 1)[1]


@dataclass
class World:
    seed: int
    entities: list[Entity]  # covered: the corpus writes about them
    reserved: list[Entity]  # never rendered anywhere: the "I don't know" stage asks about them
    towns: list[str]
    professions: list[str]
    instruments: list[str]
    organisations: list[str]
    birth_years: list[str]

    def entity(self, entity_id: str) -> Entity:
        """The covered or reserved entity with this id."""
        for candidate in self.entities + self.reserved:
            if candidate.id == entity_id:
                return candidate
        raise KeyError(f"no entity {entity_id!r} in this world")

    def residents(self, town: str) -> list[Entity]:
        """Covered people born in `town`."""
        return [e for e in self.entities if e.facts["hometown"] == town]

    def members(self, organisation: str) -> list[Entity]:
        """Covered people who work for `organisation`."""
        return [e for e in self.entities if e.facts["organisation"] == organisation]


def _join(head: str, tail: str) -> str:
    """Glue two syllables, never three equal letters in a row ("Skell" + "ley" -> "Skelley")."""
    if len(head) >= 2 and head[-1] == head[-2] == tail[0]:
        tail = tail[1:]
    return head + tail


def _draw_names(rng: random.Random, count: int) -> list[str]:
    """`count` full names; no first name and no surname is used twice, and none is a town's name."""
    firsts = [_join(head, tail) for head in _FIRST_HEADS for tail in _FIRST_TAILS]
    lasts = [_join(head, tail) for head in _LAST_HEADS for tail in _LAST_TAILS]
    lasts = [last for last in lasts if last not in TOWNS]  # "Ost" + "mere" is the town of Ostmere
    if count > min(len(firsts), len(lasts)):
        raise ValueError(f"at most {min(len(firsts), len(lasts))} people fit the name syllables, asked {count}")
    return [f"{first} {last}" for first, last in zip(rng.sample(firsts, count), rng.sample(lasts, count), strict=True)]


def _draw_facts(rng: random.Random) -> dict[str, str]:
    return {attribute: rng.choice(_POOLS[attribute]) for attribute in ATTRIBUTES}


def invented_people(world: World, count: int, seed: int = 0) -> list[Entity]:
    """`count` more people drawn like the world's, from the first names and surnames nobody in it has: they are in
    no corpus and in no measured set, so a stage may train on them freely ("I don't know" examples)."""
    used_first = {e.first_name for e in world.entities + world.reserved}
    used_last = {e.last_name for e in world.entities + world.reserved}
    firsts = [n for n in (_join(h, t) for h in _FIRST_HEADS for t in _FIRST_TAILS) if n not in used_first]
    lasts = [n for n in (_join(h, t) for h in _LAST_HEADS for t in _LAST_TAILS)
             if n not in used_last and n not in TOWNS]
    rng = random.Random(f"invented/{world.seed}/{seed}")
    if count > min(len(firsts), len(lasts)):
        raise ValueError(f"at most {min(len(firsts), len(lasts))} more people fit the name syllables, asked {count}")
    names = zip(rng.sample(firsts, count), rng.sample(lasts, count), strict=True)
    return [Entity(id=f"x{index:04d}", name=f"{first} {last}", kind="person", facts=_draw_facts(rng))
            for index, (first, last) in enumerate(names)]


def build_world(seed: int = 0, n_entities: int = 120, n_reserved: int = 100) -> World:
    """The world for `seed`: the same seed always gives the same people, names and facts."""
    rng = random.Random(seed)
    names = _draw_names(rng, n_entities + n_reserved)
    people = [
        Entity(id=f"e{index:04d}", name=name, kind="person", facts=_draw_facts(rng))
        for index, name in enumerate(names)
    ]
    return World(
        seed=seed,
        entities=people[:n_entities],
        reserved=people[n_entities:],
        towns=list(TOWNS),
        professions=list(PROFESSIONS),
        instruments=list(INSTRUMENTS),
        organisations=list(ORGANISATIONS),
        birth_years=list(BIRTH_YEARS),
    )
