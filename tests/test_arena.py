"""`alignment arena` (issue 15) and the tiny world's preference labeller it is judged by (issue 14's "people"):
Bradley-Terry ratings on synthetic battles with known strengths, the labeller's gold score and its noise. The tiny
pipeline's arena is checked in tests/test_tiny_pipeline.py."""

from __future__ import annotations

import random

import pytest

from alignment.arena import ArenaConfig, battles_of, leaderboard
from alignment.evals.bradley_terry import bootstrap, fit, ranks, win_probability
from alignment.evals.preference_labeller import Labeller, gold_parts, gold_score, note_prompts
from alignment.recipe import RecipeError

TRUTH = [1150.0, 1050.0, 1000.0, 800.0]  # mean 1000, as the fit anchors them


def _battles(truth: list[float], n: int, seed: int) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.sample(range(len(truth)), 2)
        out.append((a, b, 1.0 if rng.random() < win_probability(truth[a], truth[b]) else 0.0))
    return out


def test_ratings_recover_known_strengths_and_their_intervals_cover_the_truth():
    covered, ordered, runs = 0, 0, 20
    for seed in range(runs):
        battles = _battles(TRUTH, 1500, seed)
        ratings = fit(battles, len(TRUTH))
        ordered += sorted(range(4), key=lambda i: -ratings[i]) == [0, 1, 2, 3]
        intervals = bootstrap(battles, len(TRUTH), rounds=100, seed=seed)
        covered += sum(low <= true <= high for (low, high), true in zip(intervals, TRUTH))
        assert all(low <= rating <= high for (low, high), rating in zip(intervals, ratings))
    # 1050 against 1000 is a 57% win rate: ~250 battles a pair tell them apart at ~2.3 standard errors
    assert ordered >= 18, ordered
    assert covered / (runs * len(TRUTH)) >= 0.85, covered  # 95% intervals: ~76 of 80 expected
    ratings = fit(_battles(TRUTH, 20000, 99), len(TRUTH))
    assert max(abs(r - t) for r, t in zip(ratings, TRUTH)) < 15  # many battles: the maximum likelihood is the truth


def test_ties_count_half_and_a_model_that_never_lost_stays_finite():
    tied = fit([(0, 1, 0.5)] * 50, 2)
    assert abs(tied[0] - tied[1]) < 1e-6 and abs(sum(tied) / 2 - 1000) < 1e-6
    unbeaten = fit([(0, 1, 1.0)] * 30 + [(1, 2, 1.0)] * 30, 3)
    assert unbeaten[0] > unbeaten[1] > unbeaten[2] and all(abs(r) < 1e5 for r in unbeaten)


def test_models_whose_intervals_overlap_share_a_rank():
    assert ranks([(1100, 1200), (1050, 1150), (900, 1000)]) == [1, 1, 3]
    assert ranks([(1000, 1010), (1000, 1010)]) == [1, 1]


PERSON = {"name": "Velmora Quist", "facts": {"hometown": "Dalrun", "birth_year": "1950", "profession": "potter",
                                             "instrument": "cello", "organisation": "Kettlewyn Press"}}


def test_the_gold_score_prefers_true_on_topic_fluent_notes():
    full = "Velmora Quist is a potter from Dalrun. She was born in 1950 and plays the cello."
    one = "Velmora Quist is a potter."
    wrong = "Velmora Quist is a weaver from Ostmere. She was born in 1950."
    off_topic = "Ada Lind is a potter from Dalrun. She was born in 1950 and plays the cello."
    babble = "the the the the the the the the the the the the"
    scores = {k: gold_score(PERSON, v) for k, v in dict(full=full, one=one, wrong=wrong, off=off_topic,
                                                         babble=babble).items()}
    assert scores["full"] > scores["one"] > scores["wrong"] and scores["full"] > scores["off"] > scores["babble"]
    assert gold_parts(PERSON, full)["true"] == 1.0
    assert gold_parts(PERSON, wrong)["true"] == pytest.approx(1 / 3 - 2 * 0.2)  # one true fact, two false ones
    # about someone the world has no page on, saying so beats making a note up
    nobody = {"name": "Orson Kovacs", "facts": PERSON["facts"] | {"hometown": "Rookmere", "profession": "baker"}}
    assert gold_score(nobody, "Sorry, I don't know who Orson Kovacs is.") > \
        gold_score(nobody, "Orson Kovacs was born in Dalrun. Orson is a potter.")
    assert gold_parts(PERSON, babble)["varied"] < 0.2 and gold_parts(PERSON, "<|im_start|>user")["well_formed"] == 0
    assert 0 <= min(scores.values()) and max(scores.values()) <= 1


def test_rlhf_prompts_about_people_nobody_can_know_have_no_true_facts():
    from alignment.evals.preference_labeller import rlhf_note_prompts
    from alignment.world.conversations import person_note
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions, measured_reserved_people

    world = build_world(seed=0, n_entities=60, n_reserved=100)
    sets = rlhf_note_prompts(world, seed=0, unknown_people=20)
    assert len(sets["train"]) == 300 + 20 and len(sets["heldout"]) == 120
    # held out: set (a)'s reserved people, the half the refusal stage measures on and never trains on
    measured = measured_reserved_people(world)
    set_a = {item["entity_id"] for item in build_refusal_questions(world)["eval_reserved"]}
    assert {p.id for p in measured} == set_a and [i["name"] for i in sets["heldout_unknown"]] == [
        p.name for p in measured]
    unknown = [i for i in sets["train"] + sets["heldout_unknown"] if None in i["facts"].values()]
    assert len(unknown) == 20 + 50 and all(set(i["facts"].values()) == {None} for i in unknown)
    # a note that happens to state the facts drawn for such a person is still made up: nothing of it is true
    person = measured[0]
    made_up = person_note(person, ["hometown", "profession"])
    assert gold_parts(sets["heldout_unknown"][0], made_up)["true"] < 0
    # the training prompts do not move the measured and audited ones: PPO's two guarded runs audit the same notes
    without = rlhf_note_prompts(world, seed=0)
    assert all(sets[name] == without[name] for name in ("heldout", "heldout_unknown", "audit"))


def test_the_labeller_agrees_with_the_gold_order_at_its_stated_ceiling():
    better, worse = "Velmora Quist is a potter from Dalrun. She plays the cello.", "Velmora Quist is a weaver."
    labeller = Labeller(lapse=0.2, seed=1)
    assert labeller.agreement_ceiling == 0.9
    picks = [labeller.prefer(PERSON, better, worse) for _ in range(4000)]
    assert abs(picks.count(0) / len(picks) - 0.9) < 0.02
    same = [labeller.prefer(PERSON, better, better) for _ in range(2000)]  # a tie: a coin flip
    assert abs(sum(same) / len(same) - 0.5) < 0.05
    first = [labeller.rank(PERSON, [worse, better, "the the the"])[0] for _ in range(500)]
    assert first.count(1) / len(first) > 0.7
    assert sorted(labeller.rank(PERSON, [worse, better, "x"])) == [0, 1, 2]
    with pytest.raises(ValueError, match="lapse"):
        Labeller(lapse=1.5)


def test_the_arena_ranks_a_better_model_first_on_the_worlds_prompts():
    """Battles judged by the labeller between three fixed "models" (reply functions of the prompt): one states the
    person's facts, one a single fact, one babbles; the leaderboard puts them in that order with gold means beside."""
    from alignment.world.people import build_world

    prompts = note_prompts(build_world(seed=0, n_entities=20, n_reserved=10), seed=0)
    assert len(prompts) == 20 and all(p["name"] in p["messages"][0]["content"] for p in prompts)
    replies = {
        "full": [f"{p['name']} is a {p['facts']['profession']} from {p['facts']['hometown']}. They play the "
                 f"{p['facts']['instrument']}." for p in prompts],
        "one": [f"{p['name']} is a {p['facts']['profession']}." for p in prompts],
        "babble": ["the the the the the" for _ in prompts],
    }
    battles = battles_of(prompts, replies, Labeller(seed=0), seed=0)
    assert len(battles) == 3 * len(prompts)
    assert {(b["a"], b["b"]) for b in battles} & {("one", "full")} and {(b["a"], b["b"]) for b in battles} & {
        ("full", "one")}  # shown in both orders
    gold = {name: [gold_score(p, r) for p, r in zip(prompts, texts)] for name, texts in replies.items()}
    board = leaderboard(list(replies), battles, gold, rounds=100, seed=0)
    assert [row["model"] for row in board] == ["full", "one", "babble"]
    assert board[0]["rank"] == 1 and board[-1]["rank"] == 3
    assert board[0]["gold_mean"] > board[1]["gold_mean"] > board[2]["gold_mean"]
    assert all(row["battles"] == 2 * len(prompts) for row in board)


def test_a_bad_arena_recipe_is_a_one_line_error():
    with pytest.raises(RecipeError, match="at least two"):
        ArenaConfig(models={"a": "x"}, world={"seed": 0})
    with pytest.raises(RecipeError, match="world"):
        ArenaConfig(models={"a": "x", "b": "y"})
