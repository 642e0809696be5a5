"""The layer is configured as the template configures it, whoever imports it first in the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sandbox import POWERTOOLS_GLOBALS
from sandbox.provision import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_the_process_carries_the_templates_powertools_globals() -> None:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables[name] for name in POWERTOOLS_GLOBALS} == POWERTOOLS_GLOBALS


def test_a_run_after_the_driver_imported_the_layer_has_working_functions() -> None:
    """A summary of sharded runs imports the layer in the driver, outside any function; an
    in-process run after it had every function fail on its metrics ("Must contain a metric
    namespace"), and sent what the compliance gate never saw. A clean process, as the CLI has."""
    script = (
        "import json\n"
        "import sandbox.report  # the driver imports the layer first, as a summary of shards does\n"
        "from sandbox.simulate import SimulationConfig, run_simulation\n"
        "s = run_simulation(SimulationConfig(accounts=6, days=3, seed=7)).summary\n"
        "print(json.dumps({'errors': s['function_errors'], 'notices': s['notices']}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")} | {"TZ": "UTC"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["notices"]
