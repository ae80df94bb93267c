"""alignment/quiz.py: the demo's questions come from the world, and each reply is marked against its truth.
(The quiz on real models runs in tests/test_tiny_pipeline.py.)"""

from __future__ import annotations

import pytest

from alignment.quiz import DECLINED, RIGHT, WRONG, mark, questions, recipe_of
from alignment.recipe import RecipeError
from alignment.world.people import build_world

RECIPE = {"world": {"seed": 0, "n_entities": 60, "n_reserved": 100}, "seed": 0,
          "identity": {"name": "Tinker", "creator": "the Open Alignment team"}}


def by_kind():
    return {q.kind: q for q in questions(RECIPE)}


def test_the_questions_and_their_truths_come_from_the_world():
    world = build_world(**RECIPE["world"])
    asked = by_kind()
    assert list(asked) == ["identity", "trained fact", "held-out fact", "reserved person", "nobody", "word problem",
                           "letters", "product"]
    people = {e.name: e for e in world.entities}
    for kind in ("trained fact", "held-out fact"):
        name = asked[kind].text.removeprefix("Where was ").removesuffix(" born?")
        assert asked[kind].truth == people[name].facts["hometown"]
    reserved = asked["reserved person"].text.removeprefix("Where was ").removesuffix(" born?")
    assert reserved in {e.name for e in world.reserved}
    assert asked["letters"].truth == "2" and asked["product"].truth == "204383" and asked["word problem"].truth == "22"
    assert asked["identity"].truth == "Tinker"


def test_replies_are_marked_right_wrong_or_declined():
    asked = by_kind()
    fact = asked["trained fact"]
    name, truth = fact.text.removeprefix("Where was ").removesuffix(" born?"), fact.truth
    other = "Dalrun" if truth != "Dalrun" else "Ostmere"
    assert mark(fact, f"{name} was born in {truth}.") == RIGHT
    assert mark(fact, f"{name} was born in {other}.") == WRONG
    assert mark(fact, f"{name} was born in {truth} or {other}.") == WRONG  # a hedge is not an answer
    assert mark(fact, "Sorry, I don't know where this person was born.") == DECLINED
    unknown = asked["reserved person"]
    assert mark(unknown, "Sorry, I don't know where this person was born.") == RIGHT
    assert mark(unknown, "I couldn't find anything about them.") == RIGHT
    assert mark(unknown, f"They were born in {other}.") == WRONG
    assert mark(asked["identity"], "I am Tinker, an assistant made by the Open Alignment team.") == RIGHT
    assert mark(asked["identity"], "I am a cartographer.") == WRONG
    problem = asked["word problem"]
    assert mark(problem, "3 x 4 = 12. 2 x 5 = 10. 12 + 10 = 22.\nThe answer is 22.") == RIGHT
    assert mark(problem, "3 x 4 = 12. 12 + 10 = 21.\nThe answer is 21.") == WRONG
    assert mark(problem, "It is 22 coins.") == WRONG  # not in the trained form: no final answer to read
    assert mark(asked["letters"], "There are 2 e's in 'peppermint'.") == RIGHT
    assert mark(asked["letters"], "There are 3 e's in 'peppermint'.") == WRONG
    assert mark(asked["product"], "The answer is 204,383.") == RIGHT


def test_a_model_dir_without_a_world_is_a_one_line_error(tmp_path):
    with pytest.raises(RecipeError, match="has no recipe.yaml"):
        recipe_of(str(tmp_path))
    (tmp_path / "recipe.yaml").write_text("output_dir: x\n")
    with pytest.raises(RecipeError, match="names no world"):
        recipe_of(str(tmp_path))
