"""Recipe parsing: defaults < YAML < command line; bad input is one line, exit 2, no traceback."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from alignment.recipe import RecipeError, parse_recipe
from tests.conftest import run_cli


@dataclass
class Toy:
    name: str = "a"
    steps: int = 10
    rate: float = 0.5
    flag: bool = False
    langs: list[str] = field(default_factory=lambda: ["en"])
    block: dict | bool = field(default_factory=lambda: {"x": 1, "y": 2})
    maybe: str | None = None


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_replaces_defaults_and_command_line_beats_yaml(tmp_path):
    recipe = write(tmp_path, "name: b\nsteps: 20\nlangs: [de, fr]\nblock: {x: 5}\n")
    cfg = parse_recipe(Toy, ["--config", recipe, "--steps", "30", "--flag", "--rate=0.25"])
    assert (cfg.name, cfg.steps, cfg.rate, cfg.flag, cfg.langs) == ("b", 30, 0.25, True, ["de", "fr"])
    assert cfg.block == {"x": 5}


def test_dict_fields_take_dotted_overrides_and_false(tmp_path):
    cfg = parse_recipe(Toy, ["--block.y", "7", "--langs", "en,es", "--maybe", "null"])
    assert cfg.block == {"x": 1, "y": 7} and cfg.langs == ["en", "es"] and cfg.maybe is None
    assert parse_recipe(Toy, ["--block", "false"]).block is False


@pytest.mark.parametrize(
    "yaml_text, argv, message",
    [
        ("stesp: 3\n", [], "unknown field 'stesp' (did you mean 'steps'?)"),
        ("steps: many\n", [], "steps: expected an integer, got 'many'"),
        ("flag: 3\n", [], "flag: expected true or false"),
        ("", ["--rate", "fast"], "--rate: expected a number, got 'fast'"),
        ("", ["--nmae", "x"], "unknown field '--nmae' (did you mean 'name'?)"),
        ("steps: [1\n", [], "not valid YAML"),
    ],
)
def test_errors_name_the_field(tmp_path, yaml_text, argv, message):
    recipe = write(tmp_path, yaml_text)
    with pytest.raises(RecipeError) as err:
        parse_recipe(Toy, ["--config", recipe, *argv])
    assert message in str(err.value)
    if yaml_text and "--" not in message:
        assert recipe in str(err.value)  # a YAML mistake names the file


def test_missing_recipe_file():
    with pytest.raises(RecipeError, match="recipe file not found: nope.yaml"):
        parse_recipe(Toy, ["--config", "nope.yaml"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["corpus", "--config", "missing.yaml"], "recipe file not found: missing.yaml"),
        (["corpus", "--tasks", "two"], "--tasks: expected an integer, got 'two'"),
        (["corpus", "--gopher_quality.min_words", "5"], "gopher_quality.min_words: unknown option"),
        (["corpus", "--input", "/no/such/dir/*.warc.gz"], "--input: no files match '/no/such/dir/*.warc.gz'"),
        (["corpus", "--executor", "spark"], "executor: expected local, slurm or ray"),
        (["corpus", "--inspect", "/no/such/corpus"], "--inspect: /no/such/corpus is not a corpus output dir"),
        (["pretrian"], "unknown stage 'pretrian'"),
        (["sft", "--system_message_share", "1.5"], "system_message_share: expected a share from 0 to 1, got 1.5"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message):
    proc = run_cli(*argv, check=False, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_stage_fields():
    proc = run_cli("corpus", "--help", timeout=60)
    assert "--language_filter" in proc.stdout and "--inspect DIR" in proc.stdout
