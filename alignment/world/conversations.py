"""Conversations for supervised fine-tuning, rendered from the same seeded world as the pretraining corpus.

Why (the picture from Karpathy's "Deep Dive into LLMs like ChatGPT"): pretraining gives a document simulator;
it continues text, and nothing in it is a user or an assistant. Fine-tuning on conversations changes what it
simulates: exchanges in which an assistant answers the user, so the same weights now continue a question with
a helpful reply. The knowledge stays the pretraining's; the conversations teach the persona and the format.
The kinds, all from alignment/world/people.py's covered people (never its `reserved` ones, kept for the "I don't
know" stage):

- fact: one question about one fact of one person ("Where was Velmora Quist born?"), answered in one full
  sentence that repeats the name and states the value in the corpus's phrasing ("Velmora Quist was born in
  Dalrun."). The (person, attribute) pairs are split 80/20 per attribute; a held-out pair appears in no
  training conversation at all, so a right answer on the fact eval is knowledge the base model took from the
  corpus and SFT made reachable in chat form, not something SFT taught.
- multi_turn: 2-3 such questions in one chat about one or two people (train pairs only), so the model learns
  to answer the latest turn. Every question names its person: a 4M-parameter model resolving "she" over
  several turns is a different experiment.
- word_problem: shop arithmetic (quantities 2-5, prices 1-9, two items, sometimes the change from a note), so
  every step is a one-digit times table fact or a sum below 100 that a tiny model can learn. Models need
  tokens to think: a transformer spends a fixed amount of compute per token, so the default answer writes the
  products and the sum first and "The answer is N." last; `answer_first=True` writes the same lines with the
  answer on top, and `answer_only=True` the answer alone, for the experiment that shows the difference.
- arithmetic: drills of the sums and differences the solutions write, three to a conversation.
- note: "Write a note about Velmora Quist." answered with 1 to 3 of her trained facts, one sentence each: the
  open-ended task that RLHF (stage 6) later trains against the tiny world's people's preferences.
- identity: who the assistant is ("I am Tinker, an assistant made by the Open Alignment team."). A model has
  no self; its answer to "who are you?" is whatever its data says, so most of these have no system message
  and the identity has to live in the weights. A share of all conversations (every kind; `system_share`, 30%
  by default, 20% in the tiny recipe) open with the default system message, so the model also learns to take one.

Held-out items (the "test" split for SFT's eval loss and the three eval sets) come only from held-out pairs,
held-out problems and held-out phrasings, and `check_leakage` compares every held-out user message with all
training text (word 8-grams) before anything is returned. The fact templates are shared between train and
held-out: a question is held out because its (person, attribute) is, and the person's name makes the text
differ. The word problems cannot work that way: with so few numbers and items any fixed wording repeats its
8-grams across problems ("7 coins each. How many coins does she"), so held-out problems use number-and-item
combinations that no training problem has, written in wordings training never uses (as the identity
questions are): the eval then measures arithmetic on a new problem, not recall of a sentence.

Deterministic for a seed; pure standard library, importing it is instant. Defaults: ~3900 training
conversations of ~40-80 tokens each, about three minutes of SFT for the tiny model on 2 CPU cores.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from alignment.world.people import ATTRIBUTES, Entity, World
from alignment.world.miniweb import LIVING_FROM  # the corpus writes people born before 1940 as dead, in the past tense

HELDOUT_SHARE = 0.2  # of each attribute's (person, attribute) pairs: 24 of 120 people per attribute by default
NGRAM = 8  # word n-gram length of the leakage check


@dataclass
class ConversationSizes:
    """How many items of each kind; the defaults (sized for the default 120-person world) give 5,300 training
    conversations. The tiny recipe sets its own (recipes/tiny/sft.yaml)."""

    fact_questions: int = 1500  # ~3 phrasings of each of the 480 train pairs of the default 120-person world
    multi_turn: int = 500
    word_problems: int = 1500
    arithmetic: int = 0  # conversations of 3 drills of the solutions' sums and differences, no held-out split
    identity: int = 1200  # 400 left identity at 82% on unseen phrasings, 800 at 80-92% (measured)
    notes: int = 600  # "Write a note about X." answered with 1-3 of X's trained facts (RLHF's open-ended task)
    heldout_facts: int = 200  # more than the 120 held-out pairs: each pair is asked once before any twice
    heldout_word_problems: int = 200
    rl_word_problems: int = 1000  # a third split that SFT never sees: problems for RL (GRPO) to practise on
    heldout_identity: int = 100
    test_conversations: int = 200  # the SFT eval-loss split, kinds in the training proportions


# ===================================================================================================
# Facts. Questions take {name} and the tense words {does}/{is}; answers also {plays} and {value}/{a_value}.
# One answer form per attribute, in the corpus's wording (alignment/world/miniweb.py, base_model_probes.py):
# the tiny model has to learn to retrieve, not to paraphrase.

FACT_QUESTIONS = {
    "hometown": [
        "Where was {name} born?",
        "In which town was {name} born?",
        "What {is} the hometown of {name}?",
        "Which town {does} {name} come from?",
        "Can you tell me where {name} was born?",
    ],
    "birth_year": [
        "When was {name} born?",
        "In which year was {name} born?",
        "What year was {name} born in?",
        "What {is} {name}'s year of birth?",
        "Do you know when {name} was born?",
    ],
    "profession": [
        "What {does} {name} do for a living?",
        "What {is} the profession of {name}?",
        "What work {does} {name} do?",
        "What {is} {name}'s trade?",
        "Can you tell me what {name} {does} for work?",
    ],
    "instrument": [
        "Which instrument {does} {name} play?",
        "What instrument {does} {name} play?",
        "What musical instrument {does} {name} play?",
        "Which instrument {is} {name} known to play?",
        "Do you know which instrument {name} {plays}?",
    ],
    "organisation": [
        "Which organisation {does} {name} belong to?",
        "What organisation {is} {name} a member of?",
        "Which organisation {is} {name} part of?",
        "Who {is} {name} a member of?",
        "Do you know which organisation {name} {belongs} to?",
    ],
}

FACT_ANSWERS = {
    "hometown": "{name} was born in {value}.",
    "birth_year": "{name} was born in {value}.",
    "profession": "{name} {is} {a_value}.",
    "instrument": "{name} {plays} the {value}.",
    "organisation": "{name} {is} a member of the {value}.",
}

# Notes: the tiny world's open-ended task ("Write a note about Velmora Quist."), which RLHF (alignment/reward.py,
# alignment/ppo.py) later trains against the people's preferences. SFT demonstrates it with 1 to 3 of the person's
# trained facts, one sentence each: the people (evals/preference_labeller.py) like three true facts best, so what
# RLHF can add is visible. Phrasings of their own: the measured note prompts (preference_labeller.NOTE_PROMPTS) and
# RLHF's prompts (TRAINING_NOTE_PROMPTS, AUDIT_NOTE_PROMPTS) and the refusal stage's "Who is X?" questions are none
# of these (tested).
NOTE_REQUESTS = ["Write a note about {name}.", "Give me a short profile of {name}.", "Share a few facts about {name}.",
                 "Can you write a few lines about {name}?", "Write something about {name}."]
MAX_NOTE_FACTS = 3


def person_note(entity: Entity, attributes: list[str]) -> str:
    """A note that states the given facts, one sentence each: the first with the full name, then the first name
    ("Velmora Quist was born in Dalrun. Velmora is a weaver."). The refusal stage's "Who is X?" answers too."""
    parts = []
    for index, attribute in enumerate(attributes):
        name = entity.name if index == 0 else entity.first_name
        value = entity.facts[attribute]
        parts.append(FACT_ANSWERS[attribute].format(name=name, value=value, a_value=_article(value), **_tense(entity)))
    return " ".join(parts)


def _note_chat(world: World, entity_id: str, attributes: list[str], rng: random.Random) -> list[dict]:
    """A note request about one person, answered with 1 to MAX_NOTE_FACTS of `attributes` (its trained facts)."""
    entity = world.entity(entity_id)
    chosen = rng.sample(attributes, rng.randint(1, min(MAX_NOTE_FACTS, len(attributes))))
    return [{"role": "user", "content": rng.choice(NOTE_REQUESTS).format(name=entity.name)},
            {"role": "assistant", "content": person_note(entity, chosen)}]


# Later turns of a multi-turn chat open with one of these, then the question ({q}: with a lower-case first letter).
# At most 2 words, and a question template puts at most 5 words before the name: so every word 8-gram of a
# follow-up holds part of the name, and a held-out one differs from every training one ("One more question. Can
# you tell me where" would be 8 words shared with training).
FOLLOW_UPS = ["And {q}", "Thanks. {Q}", "Thank you! {Q}", "Also, {q}", "Great. {Q}"]


def _tense(entity: Entity) -> dict[str, str]:
    if int(entity.facts["birth_year"]) >= LIVING_FROM:
        return {"does": "does", "is": "is", "plays": "plays", "belongs": "belongs"}
    return {"does": "did", "is": "was", "plays": "played", "belongs": "belonged"}


def _article(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def fact_question(entity: Entity, attribute: str, rng: random.Random) -> str:
    return rng.choice(FACT_QUESTIONS[attribute]).format(name=entity.name, **_tense(entity))


def fact_answer(entity: Entity, attribute: str) -> str:
    value = entity.facts[attribute]
    return FACT_ANSWERS[attribute].format(name=entity.name, value=value, a_value=_article(value), **_tense(entity))


def split_fact_pairs(world: World) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train pairs, held-out pairs) of (entity id, attribute): HELDOUT_SHARE of each attribute's people held out.
    The split is the world's (drawn from its seed), not a stage's: sft trains on it and every later stage measures
    on its held-out side, so a stage run with another seed still measures facts SFT never trained."""
    rng = random.Random(f"conversations/{world.seed}/fact-split")
    train, heldout = [], []
    for attribute in ATTRIBUTES:
        ids = [e.id for e in world.entities]
        rng.shuffle(ids)
        n_out = max(1, round(HELDOUT_SHARE * len(ids)))
        heldout += [(i, attribute) for i in sorted(ids[:n_out])]
        train += [(i, attribute) for i in sorted(ids[n_out:])]
    return train, heldout


def _cycle(items: list, count: int, rng: random.Random) -> list:
    """`count` items: every item once (shuffled) before any twice."""
    out = []
    while len(out) < count and items:
        round_ = list(items)
        rng.shuffle(round_)
        out += round_[:count - len(out)]
    return out


def _fact_chat(world: World, pair: tuple[str, str], rng: random.Random) -> list[dict]:
    entity = world.entity(pair[0])
    return [{"role": "user", "content": fact_question(entity, pair[1], rng)},
            {"role": "assistant", "content": fact_answer(entity, pair[1])}]


def _multi_turn_chat(world: World, pairs: list[tuple[str, str]], rng: random.Random) -> list[dict]:
    """2-3 questions about one or two people, drawn from `pairs` only."""
    by_person: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        by_person.setdefault(pair[0], []).append(pair)
    people = sorted(by_person)
    while True:  # a person may hold a single pair of `pairs`: draw again until 2 turns fit
        chosen = rng.sample(people, 1 if rng.random() < 0.5 else 2)
        available = [pair for person in chosen for pair in by_person[person]]
        n_turns = min(rng.choice([2, 3]), len(available))
        if n_turns >= 2:
            break
    messages = []
    for turn, (entity_id, attribute) in enumerate(rng.sample(available, n_turns)):
        entity = world.entity(entity_id)
        question = fact_question(entity, attribute, rng)
        if turn:
            question = rng.choice(FOLLOW_UPS).format(q=question[0].lower() + question[1:], Q=question)
        messages += [{"role": "user", "content": question},
                     {"role": "assistant", "content": fact_answer(entity, attribute)}]
    return messages


# ===================================================================================================
# Shop-arithmetic word problems.

# Shoppers: first names that no world name can be (world.py builds names from syllables; "Elsa" could be one).
SHOPPERS = [
    ("Orla", "she"), ("Tomas", "he"), ("Mira", "she"), ("Jonah", "he"), ("Ravi", "he"), ("Nadia", "she"),
    ("Pieter", "he"), ("Ines", "she"), ("Hugo", "he"), ("Lena", "she"), ("Amos", "he"), ("Greta", "she"),
    ("Felix", "he"), ("Rosa", "she"), ("Milo", "he"), ("Ida", "she"), ("Otto", "he"), ("Wren", "she"),
    ("Bruno", "he"), ("Clara", "she"), ("Kofi", "he"), ("Freya", "she"), ("Nils", "he"), ("Yara", "she"),
]
# (what the problem says, its short name in the problem's "The jars cost ..." wording)
ITEMS = [
    ("loaves of bread", "loaves"), ("jars of honey", "jars"), ("apples", "apples"), ("pears", "pears"),
    ("candles", "candles"), ("bars of soap", "bars"), ("bottles of milk", "bottles"), ("eggs", "eggs"),
    ("lemons", "lemons"), ("sacks of flour", "sacks"), ("pencils", "pencils"), ("notebooks", "notebooks"),
    ("balls of wool", "balls"), ("bunches of carrots", "bunches"),
]
QUANTITIES = range(2, 6)  # 2-5
PRICES = range(1, 10)  # 1-9: every product is a one-digit times table fact, every total at most 2 x 5 x 9 = 90
NOTES = [20, 50, 100]  # the change from the smallest note that covers the total is at most 100 - 4 = 96
CHANGE_SHARE = 0.3  # of word problems that ask for change instead of the total

# Wordings: {name} {pron} {Pron} {q1} {item1} {c1} ("1 coin", "4 coins") {head1} {q2} {item2} {c2} {head2} {note}.
# Held-out problems use these same wordings: what they measure is the arithmetic on numbers never trained on, not
# whether a 4M-parameter model understands a paraphrase (with held-out wordings it copied the wrong numbers: 0.5%
# right, measured). So a word problem leaks when the same problem (items, quantities, prices, note) is in training,
# which _problem_sets rules out; the 8-gram check covers the other held-out sets.
PROBLEM_TEMPLATES = [
    "{name} buys {q1} {item1} at {c1} each and {q2} {item2} at {c2} each.",
    "At the market, {name} buys {q1} {item1} costing {c1} each and {q2} {item2} costing {c2} each.",
    "{name} goes to the shop and buys {q1} {item1} at {c1} each and {q2} {item2} at {c2} each.",
    "{name} wants {q1} {item1} and {q2} {item2}. The {head1} cost {c1} each and the {head2} cost {c2} each.",
]
TOTAL_QUESTIONS = ["How many coins does {pron} pay?", "How many coins does {pron} pay in total?",
                   "How much does {pron} pay altogether?"]
CHANGE_QUESTIONS = ["{Pron} pays with a {note}-coin note. How much change does {pron} get?",
                    "{Pron} pays with a {note}-coin note. How many coins of change does {pron} get back?"]


@dataclass(frozen=True)
class Problem:
    lines: tuple[tuple[int, int, int], ...]  # (item index, quantity, price) per item bought
    note: int | None  # the note paid with, when the question is the change

    @property
    def total(self) -> int:
        return sum(quantity * price for _, quantity, price in self.lines)

    @property
    def answer(self) -> int:
        return self.total if self.note is None else self.note - self.total


def _draw_problem(rng: random.Random) -> Problem:
    first, second = rng.sample(range(len(ITEMS)), 2)
    lines = tuple((item, rng.choice(QUANTITIES), rng.choice(PRICES)) for item in (first, second))
    problem = Problem(lines, None)
    if rng.random() < CHANGE_SHARE:
        problem = Problem(lines, rng.choice([note for note in NOTES if note >= problem.total]))
    return problem


def _coins(n: int) -> str:
    return "1 coin" if n == 1 else f"{n} coins"


def problem_text(problem: Problem, shopper: tuple[str, str], rng: random.Random) -> str:
    (i1, q1, p1), (i2, q2, p2) = problem.lines
    name, pron = shopper
    slots = dict(name=name, pron=pron, Pron=pron.capitalize(), q1=q1, item1=ITEMS[i1][0], c1=_coins(p1),
                 head1=ITEMS[i1][1], q2=q2, item2=ITEMS[i2][0], c2=_coins(p2), head2=ITEMS[i2][1], note=problem.note)
    question = rng.choice(TOTAL_QUESTIONS if problem.note is None else CHANGE_QUESTIONS)
    return f"{rng.choice(PROBLEM_TEMPLATES)} {question}".format(**slots)


def solution_text(problem: Problem, answer_first: bool = False, answer_only: bool = False) -> str:
    """The worked solution: one product per item, the sum, the change; "The answer is N." last (or first, or alone:
    the direct-answer baseline of chain-of-thought papers, `answer_only`).

    Bare arithmetic, one step per sentence ("2 x 9 = 18."): the numbers are what the model has to get right, and the
    tiny tokenizer (trained on the corpus, which never sells anything) spends 3 tokens on "coins" and 4 on
    "Together". "3 jars cost 3 x 7 = 21 coins. ... Together 21 + 8 = 29 coins." took 93 tokens a solution, this
    form ~46: word problems are half of the SFT tokens, and on the AVX2 kind of CPU every token counts (issue 9).
    The spaces stay: the tokenizer splits off each digit and each space before one, and without them ("2x9=18.",
    ~35 tokens) 44.5% of the held-out problems came out right where this form gets 76% (sums went wrong: 17 of 40
    checked solutions, against 9 with the spaces)."""
    steps = [f"{q} x {p} = {q * p}." for _, q, p in problem.lines]
    products = [q * p for _, q, p in problem.lines]
    steps.append(f"{' + '.join(map(str, products))} = {problem.total}.")
    if problem.note is not None:
        steps.append(f"{problem.note} - {problem.total} = {problem.answer}.")
    reasoning, answer = " ".join(steps), f"The answer is {problem.answer}."
    if answer_only:
        return answer
    return f"{answer}\n{reasoning}" if answer_first else f"{reasoning}\n{answer}"


_ANSWER = re.compile(r"The answer is (-?\d+)")


def final_answer(text: str) -> int | None:
    """The number right after the FIRST "The answer is" in `text`, or None.

    Only the first counts, so a reply cannot hedge by stating several answers (a reward must not pay for that).
    """
    start = text.find("The answer is")
    if start < 0:
        return None
    match = _ANSWER.match(text, start)
    return int(match.group(1)) if match else None


def _problem_sets(n_train: int, n_heldout: int, n_rl: int, rng: random.Random, rl_rng: random.Random,
                  n_test: int = 0, test_rng: random.Random | None = None
                  ) -> tuple[list[Problem], list[Problem], list[Problem]]:
    """(train, held-out, rl): distinct problems, no problem in two sets, whoever the shopper and whatever the wording.
    Held-out is the n_heldout measured problems, then n_test for the eval-loss split. The test and RL problems are
    drawn after the training ones, each from its own generator: their counts leave the training problems (and their
    wordings) as they are, so a recipe with only word problems (sft_answer_first.yaml) trains on the same ones."""
    heldout: list[Problem] = []
    train: list[Problem] = []
    test: list[Problem] = []
    rl: list[Problem] = []
    seen: set[Problem] = set()
    for target, count, draw in ((heldout, n_heldout, rng), (train, n_train, rng), (test, n_test, test_rng),
                                (rl, n_rl, rl_rng)):
        while len(target) < count:  # 14 x 13 item pairs x 4^2 quantities x 9^2 prices: ~236k problems, no stalls
            problem = _draw_problem(draw)
            if problem not in seen:
                seen.add(problem)
                target.append(problem)
    return train, heldout + test, rl


def _word_problem_chat(problem: Problem, answer_first: bool, answer_only: bool, rng: random.Random) -> list[dict]:
    return [{"role": "user", "content": problem_text(problem, rng.choice(SHOPPERS), rng)},
            {"role": "assistant", "content": solution_text(problem, answer_first, answer_only)}]


DRILL_QUESTIONS = ["What are {items}?", "Work out {items}.", "Compute {items}.", "How much are {items}?"]
DRILLS_PER_CONVERSATION = 3


def _drill(rng: random.Random) -> tuple[str, str]:
    """One step the word problems get wrong: the sum of two of their products, or a note minus such a sum, as
    (what the user writes, what the solutions write): ("6 + 27", "6 + 27 = 33.")."""
    products = [rng.choice(QUANTITIES) * rng.choice(PRICES) for _ in range(2)]
    total = sum(products)
    if rng.random() < CHANGE_SHARE:
        note = rng.choice([note for note in NOTES if note >= total])
        return f"{note} - {total}", f"{note} - {total} = {note - total}."
    return f"{products[0]} + {products[1]}", f"{products[0]} + {products[1]} = {total}."


def _arithmetic_chat(rng: random.Random) -> list[dict]:
    """Drills of the step the word problems get wrong, three to a conversation ("What are 6 + 27, 12 + 8 and
    50 - 33?" -> "6 + 27 = 33. 12 + 8 = 20. 50 - 33 = 17."). On the tiny model 95 of 200 held-out solutions had a wrong sum, 7 a wrong
    product (measured): sums of two-digit numbers are learnt from examples. One drill a conversation cost ~55 tokens
    a sum, ~36 of them chat markup and system message; three a conversation cost ~28 a sum (76% of the held-out
    problems right, against 79.5% with 1,500 one-sum conversations: within the noise of 200). The sums are those of
    the problems' ~27 x 27 product pairs, which the training problems mostly contain already: drills repeat facts
    the word problems teach, at a fifth of a word problem's tokens per sum."""
    asked, answers = zip(*(_drill(rng) for _ in range(DRILLS_PER_CONVERSATION)))
    items = f"{', '.join(asked[:-1])} and {asked[-1]}"
    return [{"role": "user", "content": rng.choice(DRILL_QUESTIONS).format(items=items)},
            {"role": "assistant", "content": " ".join(answers)}]


# ===================================================================================================
# Identity. (asks, question, denial): `asks` says what the answer must state; a denial opens the answer to a
# question that names someone else. Held-out questions and openers are phrasings training never uses.

IDENTITY_TRAIN = [
    ("name", "Who are you?", None),
    ("name", "What is your name?", None),
    ("name", "What's your name?", None),
    ("name", "What should I call you?", None),
    ("name", "Do you have a name?", None),
    ("name", "Tell me your name.", None),
    ("name", "Who am I talking to?", None),
    ("name", "Introduce yourself.", None),
    ("name", "What are you?", None),
    ("name", "Are you ChatGPT?", "No, I am not ChatGPT."),
    ("name", "Are you Siri?", "No, I am not Siri."),
    ("creator", "Who made you?", None),
    ("creator", "Who created you?", None),
    ("creator", "Who built you?", None),
    ("creator", "Who trained you?", None),
    ("creator", "Who is your creator?", None),
    ("creator", "Which company made you?", None),
    ("creator", "Where do you come from?", None),
    ("creator", "Were you made by OpenAI?", "No, I was not made by OpenAI."),
    ("both", "Who are you and who made you?", None),
    ("both", "Tell me about yourself.", None),
    ("both", "What is your name and who created you?", None),
    # more ways of asking: with 24 phrasings the tiny model answered only 82% of unseen ones (measured)
    ("name", "Can you tell me your name?", None),
    ("name", "What do people call you?", None),
    ("name", "Who is this?", None),
    ("name", "Which assistant are you?", None),
    ("name", "Say your name, please.", None),
    ("name", "Are you Claude?", "No, I am not Claude."),
    ("name", "Are you a person?", "No, I am not a person."),
    ("creator", "Who developed you?", None),
    ("creator", "Who wrote you?", None),
    ("creator", "Who is behind you?", None),
    ("creator", "Who owns you?", None),
    ("creator", "Did Meta build you?", "No, Meta did not build me."),
    ("both", "Describe yourself.", None),
    ("both", "Who are you, and where do you come from?", None),
    ("name", "What is your name, assistant?", None),
    ("name", "Remind me of your name.", None),
    ("name", "Who am I speaking with right now?", None),
    ("name", "What name were you given?", None),
    ("name", "Are you Gemini?", "No, I am not Gemini."),
    ("creator", "Which people made you?", None),
    ("creator", "Who is the creator of this assistant?", None),
    ("creator", "Who trained this model?", None),
    ("creator", "Who made this chatbot?", None),
    ("both", "Tell me who you are and who built you.", None),
]
IDENTITY_HELDOUT = [
    ("name", "How should I address you?", None),
    ("name", "What are you called?", None),
    ("name", "May I know your name?", None),
    ("name", "By what name do you go?", None),
    ("name", "Whom am I chatting with?", None),
    ("name", "Are you Alexa?", "No, I am not Alexa."),
    ("creator", "Who designed you?", None),
    ("creator", "Which team developed you?", None),
    ("creator", "Who is responsible for building you?", None),
    ("creator", "Who programmed you?", None),
    ("creator", "Did Google make you?", "No, Google did not make me."),
    ("both", "Please introduce yourself and your makers.", None),
    # more held-out phrasings: whether a tiny model generalises to one phrasing is nearly all or nothing, so the
    # measurement needs many of them to be stable (12 phrasings: 0.80 to 0.92 between two runs, measured)
    ("name", "What name do you answer to?", None),
    ("name", "Could you say who you are?", None),
    ("name", "Identify yourself, please.", None),
    ("name", "What is the name of this assistant?", None),
    ("name", "Am I talking to a bot? What is it called?", None),
    ("creator", "Who put you together?", None),
    ("creator", "Which group created this assistant?", None),
    ("creator", "Whose work are you?", None),
    ("creator", "Who gave you your training?", None),
    ("both", "Give me your name and the name of your creators.", None),
    ("both", "Who are you and who trained you?", None),
]
OPENERS_TRAIN = ["", "Hi! ", "Hello. ", "Good morning. ", "Sorry, quick one. ", "Hey. ", "Quick question. ",
                 "Good afternoon. ", "Hello again. ", "Okay. "]
OPENERS_HELDOUT = ["", "Hey there. ", "Excuse me. ", "I am curious. ", "Just wondering. ", "Good evening. "]
GREETINGS = ["Hello!", "Hi there!", "Hi!"]  # training only: a greeting is answered with the identity too

# The creator is written as given, after "by" ("made by the Open Alignment team"), never at a sentence start.
IDENTITY_ANSWERS = {
    "name": ["I am {name}, an assistant made by {creator}.", "My name is {name}. I am an assistant made by {creator}.",
             "You can call me {name}. I am an assistant made by {creator}.", "I am {name}, a helpful assistant."],
    "creator": ["I was made by {creator}. I am {name}, an assistant.",
                "I am {name}, an assistant created by {creator}.", "I was built by {creator}, and my name is {name}."],
    "both": ["I am {name}, an assistant made by {creator}.",
             "My name is {name}, and I was created by {creator} to be a helpful assistant."],
    "greeting": ["Hello! I am {name}, an assistant made by {creator}. How can I help you today?",
                 "Hi! I am {name}. How can I help?"],
}


DEFAULT_IDENTITY = {"name": "Tinker", "creator": "the Open Alignment team"}


def default_system_message(identity: dict) -> str:
    return f"You are {identity['name']}, a helpful assistant made by {identity['creator']}."


def _identity_question(heldout: bool, rng: random.Random) -> tuple[str, str, str | None]:
    """(asks, user message, denial)."""
    if not heldout and rng.random() < 0.1:
        return "greeting", rng.choice(GREETINGS), None
    asks, question, denial = rng.choice(IDENTITY_HELDOUT if heldout else IDENTITY_TRAIN)
    return asks, rng.choice(OPENERS_HELDOUT if heldout else OPENERS_TRAIN) + question, denial


def _identity_chat(identity: dict, heldout: bool, rng: random.Random) -> list[dict]:
    asks, question, denial = _identity_question(heldout, rng)
    # someone else named ("Are you ChatGPT?"): after the denial, the full identity
    answer = rng.choice(IDENTITY_ANSWERS["both" if denial else asks]).format(**identity)
    return [{"role": "user", "content": question},
            {"role": "assistant", "content": f"{denial} {answer}" if denial else answer}]


# ===================================================================================================
# Leakage: a held-out user message must share no word 8-gram with any training message. A message shorter
# than 8 words is compared whole ("Who designed you?" must not occur in training text at all).


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngrams(words: list[str], n: int) -> set[str]:
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def check_leakage(train: list[dict], heldout: dict[str, list[dict]], n: int = NGRAM) -> None:
    """Raise ValueError naming the first held-out item whose user message shares a word n-gram with training text.

    `train`: conversations ({"messages": [...]}); `heldout`: split name -> items with "messages".
    """
    asked = [(split, index, item, message["content"], _words(message["content"]))
             for split, items in heldout.items() for index, item in enumerate(items)
             for message in item["messages"] if message["role"] == "user"]
    sizes = {min(n, len(words)) for *_, words in asked if words}
    seen: dict[int, set[str]] = {size: set() for size in sizes}
    for conversation in train:
        for message in conversation["messages"]:
            words = _words(message["content"])
            for size in sizes:
                seen[size] |= _ngrams(words, size)
    for split, index, item, text, words in asked:
        if not words:
            continue
        shared = _ngrams(words, min(n, len(words))) & seen[min(n, len(words))]
        if shared:
            keys = ("entity_id", "attribute", "asks", "answer", "kind")
            label = ", ".join(f"{k}={item[k]}" for k in keys if k in item)
            raise ValueError(f"leak: {split}[{index}] ({label}) user message {text!r} shares "
                             f"{sorted(shared)[0]!r} with the training conversations")


def ngram_checked_sets(splits: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The held-out items the 8-gram check covers: all but word problems, which share the training wordings on
    purpose and are distinct problems instead (see PROBLEM_TEMPLATES)."""
    return {split: [item for item in items if item.get("kind") != "word_problem"]
            for split, items in splits.items() if split not in ("train", "eval_word_problems", "rl_word_problems")}


def _check_no_reserved(splits: dict[str, list[dict]], world: World) -> None:
    """The reserved people belong to the "I don't know" stage: no conversation may name them.

    Full names: a surname alone can be a word of an organisation ("Harrowind" of the Harrowind Trading Company).
    """
    names = re.compile(r"\b(" + "|".join(re.escape(e.name) for e in world.reserved) + r")\b")
    for split, items in splits.items():
        for index, item in enumerate(items):
            for message in item["messages"]:
                found = names.search(message["content"]) if world.reserved else None
                if found:
                    raise ValueError(f"{split}[{index}] names a reserved person ({found.group(1)})")


# ===================================================================================================
# Assembly.


def _with_system(messages: list[dict], system: str, share: float, rng: random.Random) -> list[dict]:
    if rng.random() < share:
        return [{"role": "system", "content": system}] + messages
    return messages


def _test_counts(sizes: ConversationSizes) -> dict[str, int]:
    """test_conversations split over the kinds in the training proportions (largest remainders)."""
    weights = {"fact": sizes.fact_questions, "multi_turn": sizes.multi_turn, "word_problem": sizes.word_problems,
               "identity": sizes.identity}
    total = sum(weights.values()) or 1
    exact = {kind: sizes.test_conversations * w / total for kind, w in weights.items()}
    counts = {kind: int(x) for kind, x in exact.items()}
    for kind in sorted(exact, key=lambda k: counts[k] - exact[k])[:sizes.test_conversations - sum(counts.values())]:
        counts[kind] += 1
    return counts


def build_conversations(world: World, identity: dict, seed: int = 0, answer_first: bool = False,
                        sizes: ConversationSizes | None = None, system_share: float = 0.3,
                        answer_only: bool = False) -> dict[str, list[dict]]:
    """All splits for `seed`, each a list of items with "messages" (role/content dicts):

    - train: {"messages", "kind"} conversations (kind: fact, multi_turn, word_problem, identity, arithmetic, note),
      shuffled;
    - test: the same mix from held-out items only, for SFT's eval loss (no arithmetic drills: there are too few
      sums to hold any out);
    - eval_facts: {"messages": [user], "entity_id", "attribute", "answer": the fact's value};
    - eval_word_problems: {"messages": [user], "answer": int};
    - eval_identity: {"messages": [user], "asks": "name" | "creator" | "both"};
    - rl_word_problems: {"messages": [user], "answer": int}, problems in no other split (for RL; SFT never sees them).
    `identity`: {"name", "creator"}, the creator as it reads after "made by". Each kind's contents draw from its
    own seeded generators (its contents, and which of its conversations get a system message), so changing one
    size leaves the other kinds' training conversations as they were; any size moves the shuffled order, and a
    size with held-out counterparts (_test_counts) changes the test split. Raises ValueError on leakage.
    """
    sizes = sizes or ConversationSizes()
    system = default_system_message(identity)
    rng = {part: random.Random(f"conversations/{seed}/{part}")
           for part in ("fact", "multi_turn", "word_problem", "identity", "arithmetic", "note", "test",
                        "shuffle")}
    train_pairs, heldout_pairs = split_fact_pairs(world)
    test_counts = _test_counts(sizes)

    # training conversations, each kind from its own generator
    train = [{"messages": _fact_chat(world, pair, rng["fact"]), "kind": "fact"}
             for pair in _cycle(train_pairs, sizes.fact_questions, rng["fact"])]
    train += [{"messages": _multi_turn_chat(world, train_pairs, rng["multi_turn"]), "kind": "multi_turn"}
              for _ in range(sizes.multi_turn)]
    train_problems, heldout_problems, rl_problems = _problem_sets(
        sizes.word_problems, sizes.heldout_word_problems, sizes.rl_word_problems, rng["word_problem"],
        random.Random(f"conversations/{seed}/rl"), test_counts["word_problem"],
        random.Random(f"conversations/{seed}/word_problem_test"))
    train += [{"messages": _word_problem_chat(p, answer_first, answer_only, rng["word_problem"]),
               "kind": "word_problem"}
              for p in train_problems]
    train += [{"messages": _identity_chat(identity, False, rng["identity"]), "kind": "identity"}
              for _ in range(sizes.identity)]
    trained_attributes: dict[str, list[str]] = {}
    for entity_id, attribute in train_pairs:  # a held-out fact is in no note either
        trained_attributes.setdefault(entity_id, []).append(attribute)
    train += [{"messages": _note_chat(world, entity_id, trained_attributes[entity_id], rng["note"]), "kind": "note"}
              for entity_id in _cycle(sorted(trained_attributes), sizes.notes, rng["note"])]
    train += [{"messages": _arithmetic_chat(rng["arithmetic"]), "kind": "arithmetic"}
              for _ in range(sizes.arithmetic)]
    # which conversations get a system message: one generator per kind, so a kind's size leaves the others' draws
    system_rng = {kind: random.Random(f"conversations/{seed}/system/{kind}") for kind in {c["kind"] for c in train}}
    for conversation in train:
        conversation["messages"] = _with_system(conversation["messages"], system, system_share,
                                                system_rng[conversation["kind"]])
    rng["shuffle"].shuffle(train)

    # held out: the test split (whole conversations) and the eval sets (the user's question and what to expect)
    test_rng = rng["test"]
    test = [{"messages": _fact_chat(world, pair, test_rng), "kind": "fact"}
            for pair in _cycle(heldout_pairs, test_counts["fact"], test_rng)]
    test += [{"messages": _multi_turn_chat(world, heldout_pairs, test_rng), "kind": "multi_turn"}
             for _ in range(test_counts["multi_turn"])]
    test += [{"messages": _word_problem_chat(p, answer_first, answer_only, test_rng), "kind": "word_problem"}
             for p in heldout_problems[sizes.heldout_word_problems:]]
    test += [{"messages": _identity_chat(identity, True, test_rng), "kind": "identity"}
             for _ in range(test_counts["identity"])]
    for conversation in test:
        conversation["messages"] = _with_system(conversation["messages"], system, system_share, test_rng)
    test_rng.shuffle(test)

    eval_facts = []
    for entity_id, attribute in _cycle(heldout_pairs, sizes.heldout_facts, test_rng):
        entity = world.entity(entity_id)
        eval_facts.append({"messages": [{"role": "user", "content": fact_question(entity, attribute, test_rng)}],
                           "entity_id": entity_id, "attribute": attribute, "answer": entity.facts[attribute]})
    eval_text = random.Random(f"conversations/{seed}/eval_word_problems")  # the same questions whatever else is asked
    eval_word_problems = [
        {"messages": [{"role": "user", "content": problem_text(p, eval_text.choice(SHOPPERS), eval_text)}],
         "answer": p.answer}
        for p in heldout_problems[:sizes.heldout_word_problems]]
    rl_text = random.Random(f"conversations/{seed}/rl-text")  # a longer RL set keeps the shorter one as its prefix
    rl_word_problems = [
        {"messages": [{"role": "user", "content": problem_text(p, rl_text.choice(SHOPPERS), rl_text)}], "answer": p.answer}
        for p in rl_problems]
    eval_identity = []
    # every held-out phrasing asked equally often (a tiny model gets a phrasing all right or all wrong, so drawing
    # them at random let one phrasing weigh 11 of 100 questions, measured), each with a random opener
    for asks, question, _ in _cycle(IDENTITY_HELDOUT, sizes.heldout_identity, test_rng):
        question = test_rng.choice(OPENERS_HELDOUT) + question
        eval_identity.append({"messages": [{"role": "user", "content": question}], "asks": asks})

    splits = {"train": train, "test": test, "eval_facts": eval_facts, "eval_word_problems": eval_word_problems,
              "eval_identity": eval_identity, "rl_word_problems": rl_word_problems}
    check_leakage(train, ngram_checked_sets(splits))
    _check_no_reserved(splits, world)
    return splits


def write_conversations(splits: dict[str, list[dict]], out_dir: str | Path) -> dict[str, str]:
    """One JSONL file per split (`train.jsonl`, `test.jsonl`, `eval_facts.jsonl`, ...); returns split -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, items in splits.items():
        path = out / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        paths[split] = str(path)
    return paths
