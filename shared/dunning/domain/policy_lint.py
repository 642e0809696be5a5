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
    TEMPLATE_IDS,
    available_templates,
    template_variables,
)
from dunning.domain.notices.samples import sample_facts
from dunning.domain.policy import Policy, StepKind

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


def _provider_template_problems(policy: Policy, templates_dir: Path | None) -> list[str]:
    """Where SMS go through a provider's registered templates (CN), every SMS a step or a service
    sends must have a template code, registered with exactly the variables our template fills in:
    the provider sends its own approved text, never ours, so the two must say the same."""
    problems: list[str] = []
    available = available_templates(templates_dir)
    for jurisdiction, jp in sorted(policy.jurisdictions.items()):
        provider = jp.sms_provider
        if provider is None:
            continue
        locale = JURISDICTION_LOCALES.get(jurisdiction, tuple(LOCALE_TEXTS))[0]
        if provider.sign_name != jp.collector.name:
            # Our SMS open with 【collector】; the provider writes 【sign_name】: they must agree.
            problems.append(f"jurisdiction {jurisdiction}: sms_provider sign_name {provider.sign_name!r} "
                            f"is not the collector's name {jp.collector.name!r}")
        steps = {step.template: f"strategy {sid}: step {step.id}" for sid, strategy in policy.strategies.items()
                 for step in strategy.steps if step.kind is StepKind.SMS and step.template}
        for template_id in [*dict.fromkeys([*steps, *TEMPLATE_IDS])]:
            if (locale, Channel.SMS) not in available.get(template_id, set()):
                continue
            where = f"{steps.get(template_id, 'service message')}: template {template_id} {locale} SMS ({jurisdiction})"
            registered = provider.templates.get(template_id)
            if registered is None:
                problems.append(f"{where}: no {provider.provider} template code (SMS to "
                                f"{provider.country_code} go out only as registered templates)")
                continue
            wanted = sorted(template_variables(template_id, locale, Channel.SMS, templates_dir) - set(provider.fixed))
            if sorted(registered.params) != wanted:
                problems.append(f"{where}: template {registered.code} params {sorted(registered.params)} "
                                f"differ from the template's variables {wanted}")
    return problems


def policy_problems(policy: Policy, *, templates_dir: Path | None = None) -> list[str]:
    """Compliance lint of a valid policy: one line per problem, naming the strategy/step or rule.

    Every message step's template must exist for each locale its jurisdictions use, render with a
    sample account, and lint clean (including on time-barred debt, since steps reach those too).
    ``templates_dir`` checks the steps against another templates folder than the bundled one.
    """
    problems = _sanity_problems(policy) + _provider_template_problems(policy, templates_dir)
    available = available_templates(templates_dir)
    facts_cache: dict[tuple[Jurisdiction, str], NoticeFacts] = {}
    for sid, jurisdictions in _strategy_jurisdictions(policy).items():
        strategy = policy.strategies[sid]
        first_message = next(
            (s for s in strategy.steps if not s.pre_due and s.kind in (StepKind.SMS, StepKind.EMAIL)), None
        )
        for step in strategy.steps:
            channel = step.kind.channel
            if step.template is None or channel not in CHANNEL_PARTS:
                continue
            for jurisdiction in sorted(jurisdictions):
                jp = policy.for_jurisdiction(jurisdiction)
                locales = JURISDICTION_LOCALES.get(jurisdiction, tuple(LOCALE_TEXTS))
                for locale in locales:
                    where = f"strategy {sid}: step {step.id}: template {step.template} {locale} {channel}"
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
    return list(dict.fromkeys(problems))  # one line per problem even when several steps share it
