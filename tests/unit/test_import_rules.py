"""Imports point downwards only: functions -> services -> ports/adapters -> domain.

The domain is pure (no AWS SDK, no Powertools); ports speak only of the domain; services take
ports and never reach an adapter, the composition root or an AWS SDK; adapters never call up into
services; only the composition root (and the handlers at the edge) choose adapters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "dunning"
SDKS = {"boto3", "botocore", "moto"}

# room -> what it may never import (module prefixes)
RULES: dict[str, set[str]] = {
    "domain": SDKS | {"aws_lambda_powertools", "dunning.ports", "dunning.adapters", "dunning.services",
                      "dunning.composition", "dunning.observability", "dunning.settings"},
    "ports": SDKS | {"aws_lambda_powertools", "dunning.adapters", "dunning.services", "dunning.composition"},
    "services": SDKS | {"dunning.adapters", "dunning.composition", "dunning.settings"},
    "adapters": {"moto", "dunning.services", "dunning.composition"},
    "composition": {"moto", "dunning.services"},
}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (function-level imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def breaks(path: Path, package: Path = PACKAGE) -> list[str]:
    room = path.relative_to(package).parts[0].removesuffix(".py")
    forbidden = RULES.get(room, set())
    return sorted(name for name in imports(path)
                  if any(name == bad or name.startswith(bad + ".") for bad in forbidden))


def test_every_module_of_the_layer_imports_only_downwards() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    offenders = {str(p.relative_to(PACKAGE)): breaks(p) for p in modules if breaks(p)}
    assert offenders == {}


def test_handlers_reach_aws_only_through_the_composition_root() -> None:
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert handlers
    offenders = {p.parent.name: sorted(n for n in imports(p) if n.split(".")[0] in SDKS) for p in handlers}
    assert {name: found for name, found in offenders.items() if found} == {}


@pytest.mark.parametrize(("room", "line"), [
    ("services", "import boto3"),
    ("services", "from dunning.adapters.dynamo import AccountsRepository"),
    ("domain", "from aws_lambda_powertools import Logger"),
    ("adapters", "def f():\n    from dunning.services import admin\n"),
])
def test_the_check_catches_an_upward_import(room: str, line: str, tmp_path: Path) -> None:
    (tmp_path / room).mkdir()
    module = tmp_path / room / "bad.py"
    module.write_text(line + "\n")
    assert breaks(module, package=tmp_path)
