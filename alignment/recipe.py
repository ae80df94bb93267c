"""Recipes: a stage's config dataclass, filled from a YAML file and then from the command line.

The rules (TRL's TrlParser behaviour, without importing TRL at start-up: that takes ~5 s):
- the dataclass gives the defaults, the YAML replaces them, `--field value` on the command line beats both;
- a dict field can be changed one key at a time: `--minhash.n_grams 7`, or switched off: `--url_filter false`;
- an unknown field, a value of the wrong type or a missing file is a `RecipeError`: the CLI prints it
  as one line naming the field or path and exits with code 2, without a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import importlib
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class RecipeError(Exception):
    """A problem with a recipe or the command line, reported as one line (exit code 2)."""


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp, where: str, from_text: bool = False):
    """Check `value` against the annotation `tp`; text from the command line is converted first."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (from_text and value in ("null", "None", "none")):
            if type(None) in args:
                return None
        # transformers types its choices as `OptimizerNames | str`: the str is for convenience, not for any text
        choices = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if choices and isinstance(value, str) and all(a in (str, type(None)) or a in choices for a in args):
            return coerce(value, choices[0], where, from_text)
        errors = []
        options = [a for a in args if a is not type(None)]
        if from_text and isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            options.sort(key=lambda a: a is str)  # `[a, b]` on the command line is a list where a list may be
        for arg in options:
            try:
                return coerce(value, arg, where, from_text)
            except RecipeError as e:
                errors.append(str(e))
        raise RecipeError(errors[0] if len(errors) == 1 else f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise RecipeError(f"{where}: expected one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if tp is Any:
        return yaml.safe_load(value) if from_text else value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if value not in allowed:
            raise RecipeError(f"{where}: expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if tp is bool:
        if from_text and isinstance(value, str):
            lowered = value.lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise RecipeError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if from_text:
            try:
                return int(value)
            except ValueError:
                raise RecipeError(f"{where}: expected an integer, got {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise RecipeError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if from_text:
            try:
                return float(value)
            except ValueError:
                raise RecipeError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise RecipeError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise RecipeError(f"{where}: expected a string, got {value!r}")
    if origin is list or tp is list:
        if from_text and isinstance(value, str):
            value = yaml.safe_load(value) if value.startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        return [coerce(v, item_tp, f"{where}[{i}]", from_text) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if from_text and isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping, got {value!r}")
        return value
    raise RecipeError(f"{where}: unsupported field type {_type_name(tp)}")


def _split_argv(argv: list[str]) -> list[tuple[str, str | None]]:
    """`--a 1 --b=2 --flag` -> [("a", "1"), ("b", "2"), ("flag", None)]."""
    pairs, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise RecipeError(f"unexpected argument '{arg}': fields are given as --name value")
        name = arg[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            pairs.append((name, value))
            i += 1
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            pairs.append((name, argv[i + 1]))
            i += 2
        else:
            pairs.append((name, None))
            i += 1
    return pairs


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RecipeError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of field: value")
    return data


def trainer_args_field(library: str):
    """The `trainer_args` field of a trainer stage's config: where parse_recipe puts `library`'s own fields."""
    return dataclasses.field(default_factory=dict, metadata={
        "help": f"Fields of {library} that are not ours (--optim, --report_to, ...): written flat in the recipe or "
                "on the command line, typed as the class types them, passed to it over our settings."})


def trackio_dir_field():
    """The `trackio_dir` field of a trainer stage's config (alignment/training.py points TRACKIO_DIR there)."""
    return dataclasses.field(default=None, metadata={
        "help": "Where trackio keeps its local runs when report_to has trackio (its TRACKIO_DIR, unless that is "
                "set); None: beside output_dir (runs/tiny/trackio for the tiny pipeline)."})


def trainer_fields(config_cls) -> tuple[str, dict, dict]:
    """(the library class's name, its init fields, their types) for a stage whose config names one in
    `TRAINER_ARGUMENTS` ("module:Class"); imported only when a recipe uses a name that is not ours (~6 s)."""
    module, _, name = config_cls.TRAINER_ARGUMENTS.partition(":")
    library_cls = getattr(importlib.import_module(module), name)
    fields = {f.name: f for f in dataclasses.fields(library_cls) if f.init}
    return f"{module}.{name}", fields, typing.get_type_hints(library_cls)


class _TrainerFields:
    """The library's fields for one parse, loaded at the first name that is not one of ours."""

    def __init__(self, config_cls, ours: dict):
        self.config_cls, self.ours, self.loaded = config_cls, ours, None

    def get(self) -> tuple[dict, dict] | None:
        if not hasattr(self.config_cls, "TRAINER_ARGUMENTS"):
            return None
        if self.loaded is None:
            _, fields, hints = trainer_fields(self.config_cls)
            self.loaded = ({k: v for k, v in fields.items() if k not in self.ours}, hints)
        return self.loaded

    def unknown(self, name: str, prefix: str) -> RecipeError:
        library = self.get()
        choices = list(self.ours) + (list(library[0]) if library else [])
        return RecipeError(f"{prefix}unknown field '{name}'{_suggest(name.lstrip('-'), choices)}")


def parse_recipe(config_cls, argv: list[str]):
    """Build `config_cls` from `--config FILE` (optional) and `--field value` overrides.

    A stage whose config names its trainer's arguments class (`TRAINER_ARGUMENTS`, e.g. transformers'
    TrainingArguments or TRL's SFTConfig) also takes every field of that class, typed as the class types it; they
    are collected in the config's `trainer_args` dict and handed to the trainer. Where a name is both ours and the
    library's, ours is meant (its help says how it maps)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    library = _TrainerFields(config_cls, fields)
    pairs = _split_argv(argv)
    values: dict[str, Any] = {}

    def set_trainer_arg(name: str, value: Any, where: str, from_text: bool) -> bool:
        known = library.get() if name not in fields else None
        if not known or name not in known[0]:
            return False
        values.setdefault("trainer_args", dict(_default(fields["trainer_args"]) or {}))
        tp = known[1][name]
        if value == "none" and str in typing.get_args(tp):  # transformers' word for "off" (`--report_to none`)
            values["trainer_args"][name] = value
        else:
            values["trainer_args"][name] = coerce(value, tp, where, from_text)
        return True

    config_files = [v for k, v in pairs if k == "config"]
    for path in config_files:
        if path is None:
            raise RecipeError("--config: expected a path to a YAML recipe")
        for name, value in load_yaml(path).items():
            if name not in fields:
                if set_trainer_arg(name, value, f"{path}: {name}", from_text=False):
                    continue
                raise library.unknown(name, f"{path}: ")
            if name == "trainer_args" and value and library.get() is not None:  # a mapping: each key is checked
                for key, item in coerce(value, hints[name], f"{path}: {name}").items():
                    if not set_trainer_arg(key, item, f"{path}: trainer_args.{key}", from_text=False):
                        raise library.unknown(f"trainer_args.{key}", f"{path}: ")
                continue
            values[name] = coerce(value, hints[name], f"{path}: {name}")

    for name, text in pairs:
        if name == "config":
            continue
        key, _, subkey = name.partition(".")
        if key not in fields:
            if not subkey and set_trainer_arg(key, "true" if text is None else text, f"--{key}", from_text=True):
                continue  # a flag without a value is `true`, as for ours (a non-bool field then says it wants one)
            raise library.unknown(f"--{key}", "")
        tp = hints[key]
        if text is None:
            if tp is not bool and not (typing.get_origin(tp) in (typing.Union, types.UnionType) and bool in typing.get_args(tp)):
                raise RecipeError(f"--{name}: expected a value")
            text = "true"
        if subkey:
            current = values.get(key, _default(fields[key]))
            if not isinstance(current, dict):
                current = {}
            values[key] = {**current, subkey: yaml.safe_load(text)}
        else:
            values[key] = coerce(text, tp, f"--{key}", from_text=True)
    return config_cls(**values)


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def recipe_help(config_cls, stage: str) -> str:
    """`alignment <stage> --help`: every field with its type, default and help text."""
    hints = typing.get_type_hints(config_cls)
    lines = [f"usage: alignment {stage} [--config RECIPE.yaml] [--field value ...]", "", "fields:"]
    for f in dataclasses.fields(config_cls):
        default = _default(f)
        lines.append(f"  --{f.name} ({_type_name(hints[f.name])}, default: {default!r})")
        if f.metadata.get("help"):
            lines.append(f"      {f.metadata['help']}")
    if hasattr(config_cls, "TRAINER_ARGUMENTS"):
        module, _, name = config_cls.TRAINER_ARGUMENTS.partition(":")
        lines += ["", f"and every field of {module}.{name} (its documentation lists them, or `python -c \"import "
                  f"{module}; help({module}.{name})\"`), e.g. --optim adamw_torch, --report_to tensorboard; where a "
                  f"name is ours too, ours above is meant"]
    return "\n".join(lines)


def to_yaml(config) -> str:
    """The resolved recipe, saved as `recipe.yaml` beside a stage's artifacts."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False, allow_unicode=True)


def stage_main(config_cls, stage: str, run, argv: list[str]) -> int:
    """The `main(argv)` of a recipe stage: --help prints the fields, else parse the recipe and run it."""
    if "-h" in argv or "--help" in argv:
        print(recipe_help(config_cls, stage))
        return 0
    run(parse_recipe(config_cls, argv))
    return 0
