"""The layout rules of ARCHITECTURE.md, read from the source tree (ast, nothing imported)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bot", "watchers", "store")
MAX_LINES = 500
MAX_BOT_TOP_LEVEL = 12


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def importers(package: str, forbidden: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imported(path))
        if name == forbidden or name.startswith(forbidden + ".")
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("store", "bot"),
        ("store", "watchers"),
        ("watchers", "bot"),
        ("bot/delivery", "bot.telegram"),
    ],
)
def test_import_direction(package: str, forbidden: str) -> None:
    assert importers(package, forbidden) == []


def test_the_rules_see_an_import() -> None:
    assert importers("bot/telegram", "bot.delivery") != []  # the handlers reply through split
    assert "store.db.Store" in imported(ROOT / "store" / "async_store.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_product_module_is_over_500_lines(package: str) -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules(package)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_bot_has_at_most_12_modules_at_its_top_level() -> None:
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert 0 < len(top) <= MAX_BOT_TOP_LEVEL, top


def test_store_db_holds_only_the_composition_of_the_parts() -> None:
    tree = ast.parse((ROOT / "store" / "db.py").read_text(encoding="utf-8"))
    defined = [n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)]
    assert [n.name for n in defined] == ["Store"]
    [store] = defined
    assert isinstance(store, ast.ClassDef)
    parts = [b.id for b in store.bases if isinstance(b, ast.Name)]
    assert len(parts) >= 6 and all(p.endswith("Verbs") for p in parts)
    methods = {n.name for n in store.body if isinstance(n, ast.FunctionDef)}
    assert methods <= {"__init__", "__enter__", "__exit__", "close", "schema_version"}


@pytest.mark.parametrize("package", ["store", "watchers", "bot"])
def test_architecture_names_every_module(package: str) -> None:
    """ARCHITECTURE.md is where a newcomer finds a module's job: seventeen modules had been
    added without a word there."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    words = set(re.findall(r"[a-z0-9_]+", text))
    unnamed = [
        str(path.relative_to(ROOT))
        for path in modules(package)
        if path.stem != "__init__" and path.stem not in words
    ]
    assert not unnamed, f"not in ARCHITECTURE.md: {unnamed}"
