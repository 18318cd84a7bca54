"""The engine stays pure: standard library and itself, nothing else."""

from __future__ import annotations

import ast
from pathlib import Path
import sys

import pytest

from custom_components.ev_load_balancer import balancing

PACKAGE = Path(balancing.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_engine_imports_only_the_standard_library(path: Path) -> None:
    foreign = {
        module
        for module in imported_modules(path)
        if module.split(".")[0] not in sys.stdlib_module_names and module != "__future__"
    }
    assert foreign == set()
