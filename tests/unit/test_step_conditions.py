"""Step conditions in the policy: validated when the policy loads, judged against the case's history."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.case_summary import CaseSummary, EngagementClass
from dunning.domain.conditions import COOLING_OFF, judge
from dunning.domain.models import ReasonCode
from dunning.domain.policy import PolicyError, StepConditions, default_policy, parse_policy
from tests.support.case_history import day

NOW = day(40)
DEFAULT_TEXT = resources.files("dunning").joinpath("policies/default.yaml").read_text("utf-8")


def summary(**kw: object) -> CaseSummary:
    base: dict[str, object] = {"case_id": "c", "status": "OPEN", "as_of": NOW, "days_past_due": 40}
    return CaseSummary.model_validate(base | kw)


def with_step(change: dict[str, object]) -> str:
    doc = yaml.safe_load(DEFAULT_TEXT)
    steps = doc["strategies"]["standard"]["steps"]
    steps[-1] = {k: v for k, v in (steps[-1] | change).items() if v is not None}
    return yaml.safe_dump(doc, allow_unicode=True)


# --------------------------------------------------------------------------- the policy


def test_the_bundled_legal_review_is_for_story_5_2_and_repeated_broken_arrangements() -> None:
    step = default_policy().strategies["standard"].step("legal_review")
    assert step.requires == StepConditions(no_declared_hardship=True, no_payment_days=14,
                                           no_active_or_recent_broken_arrangement_days=14)
    assert step.requires_any == [StepConditions(no_right_party_contact_days=45),
                                 StepConditions(min_broken_arrangements=2)]
    assert default_policy().strategies["standard"].step("final_notice").send_late


def test_a_legal_review_that_does_not_exclude_declared_hardship_is_refused() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(with_step({"requires": {"no_payment_days": 14}}))
    assert "strategy standard: step legal_review: a legal review must require no_declared_hardship" in str(err.value)


def test_an_empty_condition_set_and_an_unknown_condition_are_refused() -> None:
    with pytest.raises(PolicyError) as empty:
        parse_policy(with_step({"requires_any": [{}]}))
    assert "at least one condition" in str(empty.value)
    with pytest.raises(PolicyError) as unknown:
        parse_policy(with_step({"requires": {"no_declared_hardship": True, "no_answer_days": 3}}))
    assert "no_answer_days" in str(unknown.value)


def test_a_renewed_offer_belongs_to_re_engagement_and_re_engagement_has_no_legal_step() -> None:
    doc = yaml.safe_load(DEFAULT_TEXT)
    doc["strategies"]["standard"]["steps"][1]["renewed_offer"] = True
    with pytest.raises(PolicyError, match="renewed_offer belongs to re-engagement steps"):
        parse_policy(yaml.safe_dump(doc, allow_unicode=True))
    doc = yaml.safe_load(DEFAULT_TEXT)
    doc["reengagement"]["steps"].append({"id": "legal", "offset_days": 9, "kind": "LEGAL_REVIEW"})
    with pytest.raises(PolicyError, match="re-engagement contacts the customer"):
        parse_policy(yaml.safe_dump(doc, allow_unicode=True))


# --------------------------------------------------------------------------- judging


LEGAL = default_policy().strategies["standard"].step("legal_review")


def legal(s: CaseSummary, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return judge(LEGAL.requires, LEGAL.requires_any, s, now)


def test_never_reached_fits_the_legal_profile() -> None:
    assert legal(summary()).met


def test_reached_once_a_month_ago_fits_no_profile_and_is_not_waited_for() -> None:
    verdict = legal(summary(right_party_contacts=1, last_right_party_contact_at=day(3), engagement="ENGAGED"))
    assert not verdict.met and verdict.clears_at is None
    assert {ReasonCode.NO_REFERRAL_PROFILE, ReasonCode.RIGHT_PARTY_CONTACT_RECENT,
            ReasonCode.TOO_FEW_BROKEN_ARRANGEMENTS} <= set(verdict.reasons)


def test_two_broken_arrangements_fit_the_second_profile() -> None:
    s = summary(right_party_contacts=2, last_right_party_contact_at=day(12), promises_broken=1, plans_broken=1,
                last_broken_at=day(20), engagement="BROKE_ARRANGEMENTS")
    assert legal(s).met


def test_declared_hardship_never_fits() -> None:
    verdict = legal(summary(hardship_declared_at=day(5), engagement="HARDSHIP"))
    assert not verdict.met and verdict.clears_at is None
    assert ReasonCode.HARDSHIP_DECLARED in verdict.reasons


def test_a_recent_payment_is_waited_out() -> None:
    verdict = legal(summary(payments=1, last_payment_at=day(35)))
    assert not verdict.met and verdict.reasons == (ReasonCode.PAYMENT_RECENT,)
    assert verdict.clears_at == day(35) + timedelta(days=14) == verdict.cooling_until
    assert legal(summary(payments=1, last_payment_at=day(35)), verdict.clears_at).met


def test_an_open_offer_and_a_recent_break_are_waited_out() -> None:
    verdict = legal(summary(offer_open_since=day(36), promises_broken=1, last_broken_at=day(31),
                            right_party_contacts=0), NOW)
    assert set(verdict.reasons) == {ReasonCode.ARRANGEMENT_ACTIVE, ReasonCode.ARRANGEMENT_BROKEN_RECENTLY}
    assert verdict.clears_at == day(45)  # the later of the offer's 7 days and the break's 14


# --------------------------------------------------------------------------- properties

instants = st.one_of(st.none(), st.integers(min_value=0, max_value=60 * 24).map(lambda m: day(0) + timedelta(hours=m)))
days = st.one_of(st.none(), st.integers(min_value=1, max_value=60))


@st.composite
def summaries(draw: st.DrawFn) -> CaseSummary:
    rpc, paid, broke = draw(instants), draw(instants), draw(instants)
    broken = draw(st.integers(0, 3)) if broke else 0
    hardship = draw(instants)
    return summary(right_party_contacts=int(rpc is not None), last_right_party_contact_at=rpc,
                   payments=int(paid is not None), last_payment_at=paid, promises_broken=broken,
                   last_broken_at=broke if broken else None, hardship_declared_at=hardship,
                   engagement=EngagementClass.HARDSHIP if hardship else EngagementClass.NEVER_REACHED)


@st.composite
def condition_sets(draw: st.DrawFn) -> StepConditions:
    values = {"no_right_party_contact_days": draw(days), "no_payment_days": draw(days),
              "no_active_or_recent_broken_arrangement_days": draw(days),
              "no_declared_hardship": draw(st.booleans()),
              "min_broken_arrangements": draw(st.one_of(st.none(), st.integers(1, 3)))}
    if not any(v for v in values.values()):
        values["no_declared_hardship"] = True
    return StepConditions.model_validate(values)


def holds(c: StepConditions, s: CaseSummary, now: datetime) -> bool:
    """Each condition read straight from its definition in the policy."""
    def quiet(last: datetime | None, n: int | None) -> bool:
        return n is None or last is None or now - last >= timedelta(days=n)
    return (not (c.no_declared_hardship and s.hardship_declared_at is not None)
            and quiet(s.last_right_party_contact_at, c.no_right_party_contact_days)
            and quiet(s.last_payment_at, c.no_payment_days)
            and quiet(s.last_broken_at, c.no_active_or_recent_broken_arrangement_days)
            and (c.min_broken_arrangements is None or s.arrangements_broken >= c.min_broken_arrangements))


@settings(max_examples=300, deadline=None)
@given(summaries(), condition_sets(), st.lists(condition_sets(), max_size=3), st.integers(0, 60 * 24))
def test_a_step_goes_ahead_exactly_when_its_conditions_hold(s: CaseSummary, every: StepConditions,
                                                          options: list[StepConditions], hour: int) -> None:
    now = day(0) + timedelta(hours=hour)
    verdict = judge(every, options, s, now)
    expected = holds(every, s, now) and (not options or any(holds(o, s, now) for o in options))
    assert verdict.met is expected
    assert bool(verdict.reasons) is not verdict.met


@settings(max_examples=300, deadline=None)
@given(summaries(), condition_sets(), st.integers(0, 60 * 24))
def test_a_wait_ends_where_the_step_may_go(s: CaseSummary, every: StepConditions, hour: int) -> None:
    # Waiting is offered only for cooling-off conditions, and is exactly long enough.
    now = day(0) + timedelta(hours=hour)
    verdict = judge(every, [], s, now)
    if verdict.clears_at is not None:
        assert set(verdict.reasons) <= COOLING_OFF
        assert verdict.clears_at > now and judge(every, [], s, verdict.clears_at).met


@settings(max_examples=200, deadline=None)
@given(summaries(), st.integers(0, 120 * 24))
def test_declared_hardship_never_meets_a_legal_review_whatever_else_and_whenever(s: CaseSummary, hour: int) -> None:
    s = s.model_copy(update={"hardship_declared_at": day(1), "engagement": EngagementClass.HARDSHIP})
    verdict = legal(s, day(0) + timedelta(hours=hour))
    assert not verdict.met and ReasonCode.HARDSHIP_DECLARED in verdict.reasons and verdict.clears_at is None
