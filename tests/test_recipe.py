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
        (["sft", "--optim", "nope"], "--optim: expected one of adamw_torch, "),  # TRL's SFTConfig field
        (["pretrain", "--optimm", "adamw_torch"], "unknown field '--optimm' (did you mean 'optim'?)"),
        (["sft", "--lerning_rate", "1e-3"], "unknown field '--lerning_rate' (did you mean 'learning_rate'?)"),
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


TRAINER_YAML = "report_to: [tensorboard, trackio]\nlr_scheduler_kwargs: {min_lr: 1.0e-5}\n"
TRAINER_ARGV = ["--adam_beta2", "0.95", "--logging_first_step", "--optim", "adamw_torch", "--learning_rate", "1e-3"]


def _check_trainer_fields(args, cfg):
    """What the YAML and the command line said reached the library's arguments object, with the library's types."""
    assert args.report_to == ["tensorboard", "trackio"]  # a list
    assert args.lr_scheduler_kwargs == {"min_lr": 1e-5}  # a dict
    assert args.adam_beta2 == 0.95 and args.logging_first_step is True  # a number, a bool flag
    assert args.optim == "adamw_torch"  # one of transformers' OptimizerNames
    # learning_rate is ours and the library's: ours is meant, and it reaches the trainer
    assert cfg.learning_rate == 1e-3 and "learning_rate" not in cfg.trainer_args and args.learning_rate == 1e-3


def test_every_trainingarguments_field_is_a_pretrain_field(tmp_path):
    from alignment.pretrain import PretrainConfig, training_arguments

    cfg = parse_recipe(PretrainConfig, ["--config", write(tmp_path, TRAINER_YAML), *TRAINER_ARGV])
    args = training_arguments(cfg, tmp_path / "out", "fp32")
    _check_trainer_fields(args, cfg)
    # output_dir is ours too: the model dir; the Trainer's checkpoints go under it
    assert args.output_dir == str(tmp_path / "out" / "checkpoints")


def test_every_trl_sftconfig_field_is_an_sft_field(tmp_path):
    from alignment.sft import SFTConfig
    from alignment.sft_training import trl_config

    cfg = parse_recipe(SFTConfig, ["--config", write(tmp_path, TRAINER_YAML + "packing_strategy: wrapped\n"),
                                   *TRAINER_ARGV, "--completion_only_loss", "false"])
    args = trl_config(cfg, tmp_path / "out", "fp32", None, has_eval=False)
    _check_trainer_fields(args, cfg)
    assert args.packing_strategy == "wrapped" and args.completion_only_loss is False  # TRL's own fields


def test_a_combination_the_trainer_refuses_is_one_line(tmp_path):
    from alignment.pretrain import PretrainConfig, training_arguments

    cfg = parse_recipe(PretrainConfig, ["--load_best_model_at_end", "--save_strategy", "no"])
    with pytest.raises(RecipeError) as err:
        training_arguments(cfg, tmp_path, "fp32")
    assert str(err.value).startswith("TrainingArguments: ") and "\n" not in str(err.value)


def test_the_dtype_is_set_by_precision_not_by_the_trainers_bf16(tmp_path):
    from alignment.pretrain import PretrainConfig, training_arguments

    cfg = parse_recipe(PretrainConfig, ["--bf16", "true"])
    with pytest.raises(RecipeError, match="bf16: set `precision`"):
        training_arguments(cfg, tmp_path, "fp32")


def test_help_says_where_the_trainer_fields_are_documented():
    proc = run_cli("sft", "--help", timeout=60)
    assert "--system_message_share" in proc.stdout and "every field of trl.SFTConfig" in proc.stdout


def test_where_a_run_is_reported_does_not_change_what_is_trained():
    """A resumed run keeps its checkpoints when only report_to / project / run_name changed, not when optim did."""
    import yaml

    from alignment.recipe import to_yaml
    from alignment.sft import SFTConfig
    from alignment.training import what_is_trained

    def trained(*argv):
        return what_is_trained(yaml.safe_load(to_yaml(parse_recipe(SFTConfig, list(argv)))))

    base = trained("--report_to", "trackio", "--project", "a", "--optim", "adamw_torch")
    assert trained("--report_to", "tensorboard", "--project", "b", "--run_name", "c", "--optim", "adamw_torch",
                   "--trackio_dir", "elsewhere") == base
    assert trained("--report_to", "trackio", "--project", "a", "--optim", "sgd") != base
