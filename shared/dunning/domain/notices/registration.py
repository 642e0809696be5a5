"""The text to register with an SMS provider that sends only approved templates (Alibaba Cloud SMS).

Each registered template is our own zh-CN template with its variables as the provider's named
params (``${amount}``), the fixed ones (the collector's phone, the opt-out wording) written in, and
without the leading 【signature】, which the provider adds from the registered 签名. What the
provider sends is then exactly what ``render`` produces for the same facts.
"""

from __future__ import annotations

from pathlib import Path

from dunning.domain.models import Channel
from dunning.domain.notices.render import LOCALE_TEXTS, _environment, one_line, template_variables, templates_root
from dunning.domain.policy import Collector, SmsProvider


def registered_text(template_id: str, locale: str, provider: SmsProvider, collector: Collector,
                    templates_dir: Path | None = None) -> str:
    """The template content to register for ``template_id`` (params as ``${name}``)."""
    root = templates_dir or templates_root()
    fixed = {"collector": collector.name, "opt_out": LOCALE_TEXTS[locale].opt_out_sms,
             "contact_phone": collector.phone, "contact_hours": collector.hours, "contact_email": collector.email}
    names = template_variables(template_id, locale, Channel.SMS, templates_dir)
    ctx = {name: fixed[name] if name in provider.fixed and name in fixed else f"${{{name}}}" for name in names}
    text = one_line(_environment(str(root)).get_template(f"{locale}/{template_id}.sms.j2").render(ctx))
    return text.removeprefix(f"【{collector.name}】")


def registrations(provider: SmsProvider, locale: str, collector: Collector,
                  templates_dir: Path | None = None) -> dict[str, str]:
    """Template code -> registered content, for every template the provider has a code for."""
    return {entry.code: registered_text(template_id, locale, provider, collector, templates_dir)
            for template_id, entry in provider.templates.items()}
