"""The policy in force at run time: overrides are validated and linted; a bad one never takes effect."""

from __future__ import annotations

from pathlib import Path

from dunning.adapters.policy_store import PolicyStore
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
        return self.text


def test_no_parameter_means_the_bundled_default() -> None:
    assert PolicyStore(None).current() == default_policy()


def test_a_valid_override_goes_into_force() -> None:
    source = Source(DEFAULT.replace('version: "2026-11-01.1"', 'version: "2026-12-01.1"'))
    assert PolicyStore("/dunning/policy", fetch=source).current().version == "2026-12-01.1"


def test_an_invalid_override_is_refused_and_the_last_good_one_stays() -> None:
    source = Source(DEFAULT.replace('version: "2026-11-01.1"', 'version: "2026-12-01.1"'))
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
