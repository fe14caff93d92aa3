"""Imports go one way: the API builds on core and on ops; neither core nor ops imports the API.

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
Tests are left out: they may drive the API to observe what they test.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def production_modules(package: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / package).rglob("*.py"))
        if "tests" not in path.relative_to(ROOT).parts
    ]


@pytest.mark.parametrize("package", ["event_management_system/ops", "core"])
def test_the_package_never_imports_the_api(package):
    modules = production_modules(package)
    assert modules, f"no modules found under {package}"
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name == "api" or name.startswith("api.")
        )
        for path in modules
    }
    assert {path: names for path, names in offending.items() if names} == {}
