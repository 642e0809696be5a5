"""The Lambda layer ships exactly the runtime dependencies the tests run with, and nothing it prunes
is something the code uses.

`sam build` builds the layer with shared/Makefile: the dependencies in shared/requirements.lock
(every one pinned and hashed), then prunes Babel's locales, phonenumbers' geodata and botocore's
service models down to the lists in that Makefile. These tests keep the pins, the lock, the test
venv and those lists in step with the code.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "shared" / "requirements.lock"
LAYER_MAKEFILE = ROOT / "shared" / "Makefile"


def _requirements() -> list[str]:
    return [line.strip() for line in (ROOT / "shared/requirements.txt").read_text("utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCK.read_text("utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", line)
        if pin:
            current = pin.group(1).lower()
            entries[current] = (pin.group(2), [])
        elif line.strip().startswith("--hash=sha256:") and current:
            entries[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return entries


def _makefile_list(name: str) -> set[str]:
    match = re.search(rf"^{name} := (.+)$", LAYER_MAKEFILE.read_text("utf-8"), re.M)
    assert match, f"{name} is not set in shared/Makefile"
    return set(match.group(1).split())


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_layer_requirements_pin_exactly_the_project_runtime_dependencies() -> None:
    # pyproject.toml is what `make test` installs; shared/requirements.txt is what the lock is
    # resolved from. A pin changed in one and not the other would deploy code the tests never ran.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    layer = _requirements()
    assert layer == project
    assert all("==" in pin for pin in layer)


def test_every_top_level_pin_is_in_the_lock_at_its_version() -> None:
    locked = _locked()
    for pin in _requirements():
        name, version = re.sub(r"\[.*\]", "", pin).split("==")
        assert locked[_normalise(name)][0] == version, pin


def test_every_locked_package_is_pinned_and_hashed() -> None:
    # pip install --require-hashes refuses the whole install if one entry lacks a hash; this says
    # which one before `sam build` does.
    locked = _locked()
    assert len(locked) >= 20
    for name, (version, hashes) in locked.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), name
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_tests_run_on_the_versions_the_layer_ships() -> None:
    # `make setup` installs with the lock as constraints, so botocore, pydantic-core and the rest
    # are the deployed versions, not whatever was newest the day the venv was made.
    drift = {}
    for name, (version, _) in _locked().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed != version:
            drift[name] = (version, installed)
    assert not drift, f"locked vs installed (run `make setup`): {drift}"


def test_no_unused_extra_is_shipped() -> None:
    # Powertools' [validation] extra (fastjsonschema) serves utilities.validation, which nothing
    # imports; the layer carries only the tracer and parser extras the functions use.
    code = "".join(p.read_text("utf-8") for folder in ("shared/dunning", "functions")
                   for p in (ROOT / folder).rglob("*.py"))
    assert "utilities.validation" not in code
    assert "fastjsonschema" not in _locked()
    assert "aws-lambda-powertools[tracer,parser]==" in " ".join(_requirements())


def test_every_aws_service_the_code_calls_keeps_its_model_in_the_layer() -> None:
    kept = _makefile_list("BOTO_SERVICES")
    code = {p: p.read_text("utf-8")
            for folder in ("shared/dunning", "functions") for p in (ROOT / folder).rglob("*.py")}
    called = {svc for text in code.values()
              for svc in re.findall(r"""(?:client|provider_client)\(\s*["']([a-z0-9-]+)["']""", text)}
    assert called, "no boto3 clients found: the pattern above no longer matches the code"
    assert called <= kept, f"services the code calls but the layer prunes: {sorted(called - kept)}"
    # What Powertools utilities call on our behalf.
    if any("get_secret" in text for text in code.values()):
        assert "secretsmanager" in kept
    if any("DynamoDBPersistenceLayer" in text for text in code.values()):
        assert "dynamodb" in kept


def test_the_functions_load_with_only_the_kept_service_models() -> None:
    # The X-Ray SDK builds an `xray` client as it loads, with tracing on: a layer without that
    # model fails every cold start. Load every function as Lambda would, in a fresh interpreter,
    # with botocore refusing any service the layer prunes.
    kept = sorted(_makefile_list("BOTO_SERVICES"))
    script = f"""
import importlib.util, os, pathlib, sys
import botocore.session
kept = {kept!r}
original = botocore.session.Session.create_client
def create_client(self, service_name, *args, **kwargs):
    if service_name not in kept:
        raise RuntimeError("pruned from the layer: " + service_name)
    return original(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = create_client
for app in sorted(pathlib.Path("functions").glob("*/app.py")):
    spec = importlib.util.spec_from_file_location("fn_" + app.parent.name, app)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
print("loaded")
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
           "AWS_LAMBDA_FUNCTION_NAME": "layer-check", "POWERTOOLS_SERVICE_NAME": "dunning",
           "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "TZ": "UTC"}  # tracing stays on, as deployed
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and "loaded" in result.stdout, result.stderr[-2000:]


def test_the_layer_keeps_the_babel_data_of_every_notice_locale() -> None:
    from babel import Locale
    from babel.core import get_global

    kept = _makefile_list("BABEL_LOCALES")
    needed = set()
    for folder in (ROOT / "shared/dunning/templates").iterdir():
        name = str(Locale.parse(folder.name.replace("-", "_")))
        while True:  # Babel loads a locale on top of its parents, up to root
            needed.add(name)
            if name == "root":
                break
            name = get_global("parent_exceptions").get(name) or "_".join(name.split("_")[:-1]) or "root"
    assert needed <= kept, f"locales the notices need but the layer prunes: {sorted(needed - kept)}"


def test_the_layer_keeps_the_holiday_calendar_of_every_jurisdiction() -> None:
    import holidays

    from dunning.domain.policy import default_policy

    kept = _makefile_list("HOLIDAY_COUNTRIES")
    countries = {jp.holiday_country for jp in default_policy().jurisdictions.values()}
    modules = {type(holidays.country_holidays(c)).__module__.rsplit(".", 1)[-1] for c in countries}
    assert modules <= kept, f"calendars the policy needs but the layer prunes: {sorted(modules - kept)}"


def test_the_pruned_holidays_and_no_dnspython_give_the_same_calendars_and_emails(tmp_path: Path) -> None:
    """The layer's own pruning (make prune-holidays; dnspython and libyaml removed) on a copy of the
    installed packages: a fresh interpreter finds the same US and CN holidays, still validates an
    email and reads the policy."""
    import shutil

    import holidays

    site = Path(holidays.__file__).parents[1]
    shutil.copytree(site / "holidays", tmp_path / "holidays", ignore=shutil.ignore_patterns("__pycache__"))
    for info in site.glob("holidays-*.dist-info"):
        shutil.copytree(info, tmp_path / info.name)
    subprocess.run(["make", "-s", "-C", str(ROOT / "shared"), "prune-holidays", f"PY_DIR={tmp_path}",
                    f"PYTHON={sys.executable}"], check=True, capture_output=True, timeout=60)
    assert sorted(p.name for p in (tmp_path / "holidays/countries").glob("*.py")) == [
        "__init__.py", *sorted(f"{m}.py" for m in _makefile_list("HOLIDAY_COUNTRIES"))]
    script = """
import sys
sys.modules["dns"] = None  # as in the layer: importing it fails
sys.modules["yaml._yaml"] = None  # and the libyaml binding
import holidays
from dunning.domain.policy import default_policy
assert default_policy().jurisdictions
from pydantic import BaseModel, EmailStr
class Contact(BaseModel):
    email: EmailStr
print(Contact(email="pay@harbor-finance.example").email)
for c in ("US", "CN"):
    print(c, sorted(d.isoformat() for d in holidays.country_holidays(c, years=[2026, 2027])))
"""
    result = subprocess.run([sys.executable, "-c", script], env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "pay@harbor-finance.example"
    for line, c in zip(lines[1:], ("US", "CN"), strict=True):
        assert line == f"{c} {sorted(d.isoformat() for d in holidays.country_holidays(c, years=[2026, 2027]))}"
