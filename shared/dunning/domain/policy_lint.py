"""The compliance lint of a policy: lawful contact windows and caps, and every message step's
template present, renderable and lint-clean in each locale its jurisdictions use.

``dunning policy check`` and the policy store run it before a policy goes into force.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dunning.domain.models import Channel, Jurisdiction
from dunning.domain.notices.facts import NoticeFacts
from dunning.domain.notices.lint import check_template
from dunning.domain.notices.render import (
    CHANNEL_PARTS,
    JURISDICTION_LOCALES,
    LOCALE_TEXTS,
    available_templates,
    registered_variables,
)
from dunning.domain.notices.samples import sample_facts
from dunning.domain.policy import Policy, Step, StepKind

LAWFUL_WINDOW = (datetime.strptime("07:00", "%H:%M").time(), datetime.strptime("22:00", "%H:%M").time())


def _strategy_jurisdictions(policy: Policy) -> dict[str, set[Jurisdiction]]:
    everywhere = set(policy.jurisdictions)
    used: dict[str, set[Jurisdiction]] = {}
    for seg in policy.segments:
        where = set(seg.match.jurisdictions or everywhere) & everywhere
        for sid in [seg.strategy, *seg.variant_strategies.values()]:
            used.setdefault(sid, set()).update(where)
    for special in (policy.holdout_strategy, policy.vulnerable_strategy):
        if special:
            used.setdefault(special, set()).update(everywhere)
    # A strategy no segment points at could still be wired in later: check it everywhere.
    return {sid: used.get(sid) or everywhere for sid in policy.strategies}


def _sanity_problems(policy: Policy) -> list[str]:
    problems: list[str] = []
    start, end = LAWFUL_WINDOW
    for jurisdiction, jp in policy.jurisdictions.items():
        window = jp.contact_window
        if window.start < start or window.end > end:
            problems.append(
                f"jurisdiction {jurisdiction}: contact window {window.start:%H:%M}-{window.end:%H:%M} "
                f"is outside {start:%H:%M}-{end:%H:%M}"
            )
        if jp.caps.sms_per_day > 3 or jp.caps.email_per_day > 3:
            problems.append(f"jurisdiction {jurisdiction}: more than 3 messages a day per channel")
    if policy.link_valid_days < policy.notice_deadline_days:
        problems.append(
            f"policy: link_valid_days {policy.link_valid_days} < notice_deadline_days "
            f"{policy.notice_deadline_days}: the pay link would expire before the deadline"
        )
    return problems


def policy_problems(policy: Policy, *, templates_dir: Path | None = None) -> list[str]:
    """Compliance lint of a valid policy: one line per problem, naming the strategy/step or rule.

    Every message step's template must exist for each locale its jurisdictions use, render with a
    sample account, and lint clean (including on time-barred debt, since steps reach those too).
    ``templates_dir`` checks the steps against another templates folder than the bundled one.
    """
    problems = _sanity_problems(policy)
    available = available_templates(templates_dir)
    facts_cache: dict[tuple[Jurisdiction, str], NoticeFacts] = {}
    ladders: list[tuple[str, list[Step], set[Jurisdiction]]] = [
        (f"strategy {sid}", policy.strategies[sid].steps, where)
        for sid, where in _strategy_jurisdictions(policy).items()]
    if policy.reengagement is not None:  # follows a broken arrangement in every strategy
        ladders.append(("reengagement", policy.reengagement.steps, set(policy.jurisdictions)))
    for name, steps, jurisdictions in ladders:
        first_message = None if name == "reengagement" else next(
            (s for s in steps if not s.pre_due and s.kind in (StepKind.SMS, StepKind.EMAIL)), None
        )
        for step in steps:
            channel = step.kind.channel
            if step.template is None or channel not in CHANNEL_PARTS:
                continue
            for jurisdiction in sorted(jurisdictions):
                jp = policy.for_jurisdiction(jurisdiction)
                locales = JURISDICTION_LOCALES.get(jurisdiction, tuple(LOCALE_TEXTS))
                for locale in locales:
                    where = f"{name}: step {step.id}: template {step.template} {locale} {channel}"
                    if (locale, channel) not in available.get(step.template, set()):
                        problems.append(f"{where}: no such template")
                        continue
                    key = (jurisdiction, locale)
                    if key not in facts_cache:
                        facts_cache[key] = sample_facts(jurisdiction, locale, policy)
                    first = jp.validation_notice and step is first_message
                    problems += check_template(
                        f"{where} ({jurisdiction})",
                        step.template,
                        channel,
                        facts_cache[key],
                        locale,
                        # steps reach every delinquent account, time-barred ones included
                        first_contact=first,
                        time_barred=True,
                        budget=locale == locales[0],
                        templates_dir=templates_dir,
                    )
    problems += _route_problems(policy, available, templates_dir)
    return list(dict.fromkeys(problems))  # one line per problem even when several steps share it


def _route_problems(policy: Policy, available: dict[str, set[tuple[str, Channel]]],
                    templates_dir: Path | None) -> list[str]:
    """A route through an approved-template provider carries no free text: every SMS template of
    its locale (steps, reminders and confirmations alike) needs its registered code, with the same
    variables as the template."""
    problems: list[str] = []
    for route in policy.sms_routes:
        where = f"sms route {route.country_code} ({route.provider})"
        texts = sorted(t for t, parts in available.items() if (route.locale, Channel.SMS) in parts)
        for template_id in texts:
            registered = route.templates.get(template_id)
            if registered is None:
                problems.append(f"{where}: template {template_id} {route.locale} SMS has no registered code")
                continue
            variables = registered_variables(template_id, route.locale, templates_dir)
            if sorted(registered.params) != variables:
                problems.append(f"{where}: template {template_id} is registered with {sorted(registered.params)}, "
                                f"but uses {variables}")
        for template_id in sorted(set(route.templates) - set(texts)):
            problems.append(f"{where}: {template_id} is registered but there is no such {route.locale} SMS template")
    return problems
