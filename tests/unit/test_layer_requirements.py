"""The Lambda layer ships exactly the runtime dependencies the tests run with."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layer_requirements_pin_exactly_the_project_runtime_dependencies() -> None:
    # `sam build` installs shared/requirements.txt into the layer; pyproject.toml is what `make test`
    # installs. A pin changed in one and not the other would deploy code the tests never ran.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    layer = [line.strip() for line in (ROOT / "shared/requirements.txt").read_text("utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert layer == project
    assert all("==" in pin for pin in layer)
