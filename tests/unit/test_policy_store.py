"""The policy in force at run time: overrides are validated and linted; a bad one never takes effect."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from dunning.adapters.policy_store import PolicyNotFound, PolicyStore
from dunning.domain.policy import default_policy

DEFAULT = (Path(__file__).parents[2] / "shared/dunning/policies/default.yaml").read_text("utf-8")


class Source:
    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def __call__(self, name: str, max_age: int) -> str:
        self.calls += 1
        if self.text == "<missing>":
            raise LookupError(name)
        if self.text == "<absent>":
            raise PolicyNotFound(name)
        return self.text


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_no_parameter_means_the_bundled_default() -> None:
    assert PolicyStore(None).current() == default_policy()


def test_a_valid_override_goes_into_force() -> None:
    source = Source(DEFAULT.replace('version: "2026-12-05.1"', 'version: "2026-12-01.1"'))
    assert PolicyStore("s3://dunning-dev-policy/policy.yaml", fetch=source).current().version == "2026-12-01.1"


def test_an_invalid_override_is_refused_and_the_last_good_one_stays() -> None:
    source = Source(DEFAULT.replace('version: "2026-12-05.1"', 'version: "2026-12-01.1"'))
    store = PolicyStore("s3://dunning-dev-policy/policy.yaml", fetch=source)
    assert store.current().version == "2026-12-01.1"
    source.text = DEFAULT.replace("template: first_notice", "template: no_such_template")
    assert store.current().version == "2026-12-01.1"
    source.text = "variants: [this is not a policy"
    assert store.current().version == "2026-12-01.1"
    assert store.refusals == 2


def test_a_threatening_template_reference_fails_the_lint_and_is_refused() -> None:
    # legal_referral speaks of legal action: as a routine step it could reach time-barred debt.
    source = Source(DEFAULT.replace("template: overdue_reminder}", "template: legal_referral}", 1))
    store = PolicyStore("s3://dunning-dev-policy/policy.yaml", fetch=source)
    assert store.current() == default_policy()
    assert store.refusals == 1


def test_an_unreachable_store_keeps_the_policy_in_force() -> None:
    source = Source("<missing>")
    assert PolicyStore("s3://dunning-dev-policy/policy.yaml", fetch=source).current() == default_policy()


def test_no_override_parameter_is_the_default_and_is_asked_for_once_per_cache_period() -> None:
    # A new deployment has no override: asking SSM on every invocation would cost a call and a
    # warning each time for an answer that does not change.
    source, clock = Source("<absent>"), Clock()
    store = PolicyStore("s3://dunning-dev-policy/policy.yaml", max_age=300, fetch=source, clock=clock)
    assert [store.current() for _ in range(5)] == [default_policy()] * 5
    assert source.calls == 1
    clock.now += 301
    source.text = DEFAULT.replace('version: "2026-12-05.1"', 'version: "2026-12-01.1"')
    assert store.current().version == "2026-12-01.1"  # an override written later takes effect
    source.text = "<absent>"
    assert store.current() == default_policy()  # and deleting it brings the default back


def test_nothing_published_means_no_override_and_a_published_object_is_read(monkeypatch) -> None:
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from dunning.adapters.policy_store import _s3_fetch

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        parameters.base.DEFAULT_PROVIDERS.clear()  # a provider built outside this mock holds a stale client
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dunning-dev-policy")
        with pytest.raises(PolicyNotFound):
            _s3_fetch("s3://dunning-dev-policy/policy.yaml", 300)
        s3.put_object(Bucket="dunning-dev-policy", Key="policy.yaml", Body=DEFAULT.encode())
        assert _s3_fetch("s3://dunning-dev-policy/policy.yaml", 0) == DEFAULT
        parameters.base.DEFAULT_PROVIDERS.clear()


def test_a_published_policy_is_cached_for_max_age_like_any_powertools_parameter(monkeypatch) -> None:
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from dunning.adapters.policy_store import _s3_fetch

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        parameters.base.DEFAULT_PROVIDERS.clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dunning-dev-policy")
        s3.put_object(Bucket="dunning-dev-policy", Key="policy.yaml", Body=b"first")
        assert _s3_fetch("s3://dunning-dev-policy/policy.yaml", 300) == "first"
        s3.put_object(Bucket="dunning-dev-policy", Key="policy.yaml", Body=b"second")
        assert _s3_fetch("s3://dunning-dev-policy/policy.yaml", 300) == "first"  # still within max_age
        parameters.clear_caches()  # what a cold start (or the sandbox between runs) does
        assert _s3_fetch("s3://dunning-dev-policy/policy.yaml", 300) == "second"
        parameters.base.DEFAULT_PROVIDERS.clear()


def test_a_refused_policy_is_counted_for_the_policy_refused_alarm() -> None:
    from dunning.observability import metrics

    metrics.clear_metrics()
    store = PolicyStore("s3://dunning-dev-policy/policy.yaml", fetch=Source("variants: [this is not a policy"))
    assert store.current() == default_policy()
    assert "PolicyRefused" in metrics.metric_set
    metrics.clear_metrics()


def test_the_functions_read_where_the_template_says_the_policy_is(monkeypatch) -> None:
    from dunning.settings import BaseFunctionSettings

    monkeypatch.setenv("ACCOUNTS_TABLE", "a")
    monkeypatch.setenv("COLLECTIONS_TABLE", "c")
    monkeypatch.setenv("POLICY_BUCKET", "dunning-prod-policy-123456789012-us-east-1")
    monkeypatch.setenv("POLICY_KEY", "policy.yaml")
    settings = BaseFunctionSettings()  # type: ignore[call-arg]
    assert settings.policy_location == "s3://dunning-prod-policy-123456789012-us-east-1/policy.yaml"
    monkeypatch.delenv("POLICY_BUCKET")
    assert BaseFunctionSettings().policy_location is None  # type: ignore[call-arg]
