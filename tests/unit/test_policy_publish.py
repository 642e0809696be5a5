"""`dunning policy publish | history | rollback` against a stage's PolicyBucket (on moto).

What an operator relies on: a policy that fails the check never reaches the bucket; every change,
rollbacks included, is a new version saying who and when; the functions read what was published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from dunning.adapters.policy_store import PolicyBucket, PolicyStore
from sandbox.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = (ROOT / "shared/dunning/policies/default.yaml").read_text("utf-8")
REGION = "us-east-1"
BUCKET = "dunning-dev-policy-123456789012-us-east-1"  # moto's account id, the template's name pattern
STAGE = ["--stage", "dev", "--region", REGION]


def _version(text: str, version: str) -> str:
    # Whatever version the bundled policy carries today.
    return re.sub(r'(?m)^version: ".*"$', f'version: "{version}"', text, count=1)


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[PolicyBucket]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        # As the template makes it: versioned, Object Lock on.
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        yield PolicyBucket(s3, BUCKET, "policy.yaml")


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _history(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["policy", "history", "--json", *STAGE]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_publish_checks_first_and_records_who_and_when(bucket: PolicyBucket, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.yaml", _version(DEFAULT, "2026-12-01.1"))

    assert main(["policy", "publish", good, "--note", "holiday calendar 2027", *STAGE]) == 0

    out = capsys.readouterr().out
    assert "published policy 2026-12-01.1 as version" in out
    assert f"s3://{BUCKET}/policy.yaml" in out
    (entry,) = _history(capsys)
    assert entry["action"] == "PUBLISH" and entry["current"] is True
    assert entry["policy_version"] == "2026-12-01.1"
    assert str(entry["published_by"]).startswith("arn:aws:")  # the caller STS reported, not a typed name
    assert str(entry["at"]).endswith("Z")
    assert entry["note"] == "holiday calendar 2027"
    assert bucket.read() == _version(DEFAULT, "2026-12-01.1")


def test_a_policy_that_fails_the_check_is_never_published(bucket: PolicyBucket, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    broken = _write(tmp_path, "broken.yaml", DEFAULT.replace("template: first_notice", "template: no_such"))

    assert main(["policy", "publish", broken, *STAGE]) == 1

    out = capsys.readouterr().out
    assert "no_such" in out and "refused: nothing was published" in out
    assert _history(capsys) == []


def test_publishing_the_same_document_again_writes_no_version(bucket: PolicyBucket, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.yaml", DEFAULT)
    assert main(["policy", "publish", good, *STAGE]) == 0
    assert main(["policy", "publish", good, *STAGE]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert len(_history(capsys)) == 1


def test_rollback_restores_the_previous_version_as_a_new_recorded_version(
        bucket: PolicyBucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", _write(tmp_path, "a.yaml", _version(DEFAULT, "2026-12-01.1")), *STAGE]) == 0
    assert main(["policy", "publish", _write(tmp_path, "b.yaml", _version(DEFAULT, "2026-12-02.1")), *STAGE]) == 0
    first = _history(capsys)[-1]

    assert main(["policy", "rollback", "--note", "caps too high", *STAGE]) == 0

    assert "rolled back to policy 2026-12-01.1" in capsys.readouterr().out
    history = _history(capsys)
    assert [h["action"] for h in history] == ["ROLLBACK", "PUBLISH", "PUBLISH"]  # nothing erased
    assert history[0]["restores"] == first["version_id"] and history[0]["current"] is True
    assert bucket.read() == _version(DEFAULT, "2026-12-01.1")


def test_rollback_to_a_named_version_and_to_one_that_does_not_exist(
        bucket: PolicyBucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in (1, 2, 3):
        path = _write(tmp_path, f"{n}.yaml", _version(DEFAULT, f"2026-12-0{n}.1"))
        assert main(["policy", "publish", path, *STAGE]) == 0
    oldest = _history(capsys)[-1]

    assert main(["policy", "rollback", "--to", str(oldest["version_id"]), *STAGE]) == 0
    assert bucket.read() == _version(DEFAULT, "2026-12-01.1")
    assert main(["policy", "rollback", "--to", "no-such-version", *STAGE]) == 1
    assert "no published version no-such-version" in capsys.readouterr().out


def test_rollback_with_nothing_earlier_changes_nothing(bucket: PolicyBucket, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "publish", _write(tmp_path, "a.yaml", DEFAULT), *STAGE]) == 0
    assert main(["policy", "rollback", *STAGE]) == 1
    assert "no earlier version" in capsys.readouterr().out
    assert len(_history(capsys)) == 1


def test_an_old_version_that_no_longer_passes_the_check_is_not_rolled_back_to(
        bucket: PolicyBucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Written straight to the bucket, as a version published before today's lint existed would be.
    stale = bucket.publish(DEFAULT.replace("template: first_notice", "template: retired_notice"), "2025-01-01.1")
    assert main(["policy", "publish", _write(tmp_path, "now.yaml", DEFAULT), *STAGE]) == 0

    assert main(["policy", "rollback", "--to", stale.version_id, *STAGE]) == 1

    assert "no longer passes the check" in capsys.readouterr().out
    assert bucket.read() == DEFAULT


def test_history_of_a_stage_with_nothing_published_says_the_default_is_in_force(
        bucket: PolicyBucket, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "history", *STAGE]) == 0
    assert "the bundled default policy is in force" in capsys.readouterr().out


def test_what_is_published_is_what_the_functions_read(bucket: PolicyBucket, tmp_path: Path) -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.base.DEFAULT_PROVIDERS.clear()  # the functions' provider is built inside this mock
    assert main(["policy", "publish", _write(tmp_path, "p.yaml", _version(DEFAULT, "2026-12-09.3")), *STAGE]) == 0
    assert PolicyStore(bucket.location, max_age=0).current().version == "2026-12-09.3"
    parameters.base.DEFAULT_PROVIDERS.clear()
