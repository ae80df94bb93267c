"""The layout's two import rules (DESIGN.md): a stage never imports another stage, and the shared pieces below the
stages (the world, the evals, training, the chat format) never import a stage or a user-facing command. Read from
the source with ast, so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast

import pytest

from alignment.cli import STAGES
from tests.conftest import ROOT

PACKAGE = ROOT / "alignment"
COMMANDS = {"sample", "chat", "serve", "export", "run", "tool"}  # what a user calls without a recipe stage behind it
# the modules `alignment <command>` runs: the recipe stages, and the commands
STAGE_MODULES = {module for name, (module, _) in STAGES.items() if name not in COMMANDS}
USER_FACING = {module for module, _ in STAGES.values()} | {"alignment.cli", "alignment.__main__"}


def _module_name(path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # from alignment import sft
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_stages_are_found():
    assert {"alignment.corpus", "alignment.tokenizer", "alignment.pretrain", "alignment.sft"} <= STAGE_MODULES
    assert STAGE_MODULES <= set(MODULES)


@pytest.mark.parametrize("stage", sorted(STAGE_MODULES))
def test_a_stage_imports_no_other_stage(stage):
    assert not (MODULES[stage] & (STAGE_MODULES - {stage}))


@pytest.mark.parametrize("module", sorted(set(MODULES) - USER_FACING))
def test_shared_pieces_import_nothing_user_facing(module):
    assert not (MODULES[module] & USER_FACING), module
