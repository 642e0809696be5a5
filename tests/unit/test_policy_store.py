"""The policy in force at run time: overrides are validated and linted; a bad one never takes effect."""

from __future__ import annotations

from pathlib import Path

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
    assert PolicyStore("/dunning/policy", fetch=source).current().version == "2026-12-01.1"


def test_an_invalid_override_is_refused_and_the_last_good_one_stays() -> None:
    source = Source(DEFAULT.replace('version: "2026-12-05.1"', 'version: "2026-12-01.1"'))
    store = PolicyStore("/dunning/policy", fetch=source)
    assert store.current().version == "2026-12-01.1"
    source.text = DEFAULT.replace("template: first_notice", "template: no_such_template")
    assert store.current().version == "2026-12-01.1"
    source.text = "variants: [this is not a policy"
    assert store.current().version == "2026-12-01.1"
    assert store.refusals == 2


def test_a_threatening_template_reference_fails_the_lint_and_is_refused() -> None:
    # legal_referral speaks of legal action: as a routine step it could reach time-barred debt.
    source = Source(DEFAULT.replace("template: overdue_reminder}", "template: legal_referral}", 1))
    store = PolicyStore("/dunning/policy", fetch=source)
    assert store.current() == default_policy()
    assert store.refusals == 1


def test_an_unreachable_store_keeps_the_policy_in_force() -> None:
    source = Source("<missing>")
    assert PolicyStore("/dunning/policy", fetch=source).current() == default_policy()


def test_no_override_parameter_is_the_default_and_is_asked_for_once_per_cache_period() -> None:
    # A new deployment has no override: asking SSM on every invocation would cost a call and a
    # warning each time for an answer that does not change.
    source, clock = Source("<absent>"), Clock()
    store = PolicyStore("/dunning/policy", max_age=300, fetch=source, clock=clock)
    assert [store.current() for _ in range(5)] == [default_policy()] * 5
    assert source.calls == 1
    clock.now += 301
    source.text = DEFAULT.replace('version: "2026-12-05.1"', 'version: "2026-12-01.1"')
    assert store.current().version == "2026-12-01.1"  # an override written later takes effect
    source.text = "<absent>"
    assert store.current() == default_policy()  # and deleting it brings the default back


def test_ssm_parameter_not_found_means_no_override(monkeypatch) -> None:
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from dunning.adapters.policy_store import _ssm_fetch

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        parameters.clear_caches()
        parameters.base.DEFAULT_PROVIDERS.clear()  # a provider built outside this mock holds a stale client
        with pytest.raises(PolicyNotFound):
            _ssm_fetch("/dunning/policy", 300)
        parameters.base.DEFAULT_PROVIDERS.clear()
