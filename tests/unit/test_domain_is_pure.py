"""The domain must stay pure: nothing under dunning.domain may import an AWS SDK."""

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "shared" / "dunning" / "domain"
FORBIDDEN = {"boto3", "botocore", "aws_lambda_powertools", "moto"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_domain_module_imports_an_aws_sdk() -> None:
    modules = sorted(DOMAIN.rglob("*.py"))
    assert modules, "the domain package has modules"
    offenders = {p.name: sorted(_imports(p) & FORBIDDEN) for p in modules if _imports(p) & FORBIDDEN}
    assert offenders == {}


def test_the_check_would_catch_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import boto3\nfrom botocore.exceptions import ClientError\n")
    assert _imports(bad) & FORBIDDEN == {"boto3", "botocore"}
