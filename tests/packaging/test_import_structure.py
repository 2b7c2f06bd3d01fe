"""Imports go one way: every module imports at its top (an import inside a function is
how a cycle hides), and the mail outbox, the storage, knows nothing of delivery, which
builds on it."""

from pathlib import Path

import ast
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "prorenata" / "videomote"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_imports_at_its_top(path):
    tree = _tree(path)
    top = {id(node) for node in tree.body}
    nested = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top
    ]
    assert nested == []


def test_the_outbox_is_storage_and_delivery_builds_on_it():
    outbox = _imported(PACKAGE / "notify" / "outbox.py")
    delivery = _imported(PACKAGE / "notify" / "delivery.py")
    assert {name for name in outbox if name.startswith("prorenata.videomote.notify.")} == {
        "prorenata.videomote.notify.imip"  # the backoff rule
    }
    assert not {name for name in outbox if name.startswith("prorenata.videomote.audit")}
    assert "prorenata.videomote.notify.outbox" in delivery
