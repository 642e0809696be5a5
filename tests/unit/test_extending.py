"""docs/extending.md, performed: each path it describes is walked here, in a temporary templates
folder, in memory, by subclassing, or (for the edits a Python module cannot take at run time) on a
copy of the layer in a temporary folder. The code the doc shows is the code these tests run:
`test_every_code_block_in_the_doc_is_code_that_runs` holds them together.

Edits to the shipped package's tables are made with monkeypatch, entry by entry as the doc writes
them; nothing under shared/ is changed. The module is long because it holds the code of all five
paths, templates included, exactly as the doc shows it; each path is one section.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dunning.adapters import webhooks
from dunning.adapters.senders import SesEmailSender
from dunning.adapters.webhooks import (
    BadSignature,
    MalformedPayload,
    UnknownProvider,
    WebhookMessage,
    WebhookRequest,
    _same,
    read_webhook,
)
from dunning.composition import AwsPorts
from dunning.domain import compliance, models
from dunning.domain.compliance import Attempt, AttemptKind, ContactOutcome, ContactRecord
from dunning.domain.ledger import GENESIS
from dunning.domain.models import Case, CaseStatus, Channel, EntryKind, Jurisdiction, NoticeStatus, ReasonCode
from dunning.domain.notices.lint import TEMPLATE_CHANNELS, as_agency, lint_bundled_templates, lint_rendered
from dunning.domain.notices.render import (
    _ALL_FACTS,
    JURISDICTION_LOCALES,
    LOCALE_TEXTS,
    REQUIRED_FACTS,
    TEMPLATE_IDS,
    LocaleTexts,
    UnknownTemplate,
    registered_variables,
    render,
    templates_root,
)
from dunning.domain.notices.samples import SAMPLE_NOW, sample_account, sample_facts
from dunning.domain.policy import default_policy, parse_policy
from dunning.domain.policy_lint import policy_problems
from dunning.ports import (
    CaseRecord,
    DeliveryReceipt,
    InboundSms,
    OutboundMessage,
    ProviderRejected,
    ReceiptStatus,
    Sender,
    TransientError,
)
from dunning.services import deliveries, escalation, replies
from dunning.settings import MessagingSettings
from tests.functions.conftest import NOW, make_account
from tests.support.fakes import FakePorts

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "extending.md"
LAYER = ROOT / "shared" / "dunning"
DEFAULT_YAML = (LAYER / "policies" / "default.yaml").read_text("utf-8")
US, CN = Jurisdiction.US, Jurisdiction.CN


# =============================================================================== a new notice template

TID = "courtesy_reminder"

COURTESY_TEMPLATES = {
    "en-US/courtesy_reminder.sms.j2": """\
{{ collector }}: a friendly reminder, your loan ending {{ last4 }} is {{ days_overdue }}. Due: {{ amount }}.
Please pay by {{ deadline }}: {{ pay_link }}
Hard to pay? {{ contact_phone }}. {{ opt_out }}
""",
    "en-US/courtesy_reminder.email_subject.j2": "A friendly reminder about account ••••{{ last4 }}\n",
    "en-US/courtesy_reminder.email_text.j2": """\
Dear {{ customer_name }},

This is a friendly reminder that loan account {{ masked_account }} is {{ days_overdue }}.

Amount due: {{ amount }}
Please pay by: {{ deadline }}

Pay securely online: {{ pay_link }}

If you are finding it hard to pay, please call us: we can often spread the amount over a few instalments.
{% include "en-US/_footer.email_text.j2" %}
""",
    "en-US/courtesy_reminder.email_html.j2": """\
{% extends "en-US/_layout.email_html.j2" %}
{% block content %}
<p>This is a friendly reminder that loan account {{ masked_account }} is {{ days_overdue }}.</p>
<p>Amount due: <strong>{{ amount }}</strong><br>Please pay by: <strong>{{ deadline }}</strong></p>
<p>If you are finding it hard to pay, please call us: we can often spread the amount over a few instalments.</p>
{% endblock %}
""",
    "zh-CN/courtesy_reminder.sms.j2": """\
【{{ collector }}】温馨提示：尾号{{ last4 }}借款{{ days_overdue }}，应还{{ amount }}，请于{{ deadline }}前还款：{{ pay_link }}
咨询{{ contact_phone }}，{{ opt_out }}
""",  # noqa: E501 - a line break in an SMS template is a space in the text
    "zh-CN/courtesy_reminder.email_subject.j2": "温馨提示：借款账户{{ masked_account }}待还款\n",
    "zh-CN/courtesy_reminder.email_text.j2": """\
尊敬的{{ customer_name }}，您好：

温馨提示：您的借款账户{{ masked_account }}{{ days_overdue }}。

应还金额：{{ amount }}
请于以下日期前还款：{{ deadline }}

在线安全还款：{{ pay_link }}

如还款有困难，请与我们联系，我们通常可以为您安排分期还款。
{% include "zh-CN/_footer.email_text.j2" %}
""",
    "zh-CN/courtesy_reminder.email_html.j2": """\
{% extends "zh-CN/_layout.email_html.j2" %}
{% block content %}
<p>温馨提示：您的借款账户{{ masked_account }}{{ days_overdue }}。</p>
<p>应还金额：<strong>{{ amount }}</strong><br>请于以下日期前还款：<strong>{{ deadline }}</strong></p>
<p>如还款有困难，请与我们联系，我们通常可以为您安排分期还款。</p>
{% endblock %}
""",
}

# render.py: the new id, and the facts the CONTENT lint will insist on.
NEW_TEMPLATE_IDS = (
    "courtesy_reminder",
)
NEW_REQUIRED_FACTS = {
    "courtesy_reminder": _ALL_FACTS,
}

SMS_3 = "      - {id: sms_3, offset_days: 3, kind: SMS, template: overdue_reminder}\n"
COURTESY_STEP = """\
      - {id: sms_5, offset_days: 5, kind: SMS, template: courtesy_reminder}
"""


@pytest.fixture
def courtesy_root(tmp_path: Path) -> Path:
    """The bundled templates plus the new template's four parts in en-US and zh-CN."""
    root = tmp_path / "templates"
    shutil.copytree(templates_root(), root)
    for name, text in COURTESY_TEMPLATES.items():
        (root / name).write_text(text, "utf-8")
    return root


def _register_template(monkeypatch: pytest.MonkeyPatch) -> None:
    for template_id in NEW_TEMPLATE_IDS:
        # TEMPLATE_CHANNELS is built from TEMPLATE_IDS when the lint module loads: set its entry
        monkeypatch.setitem(TEMPLATE_CHANNELS, template_id, (Channel.SMS, Channel.EMAIL))
    for template_id, facts in NEW_REQUIRED_FACTS.items():
        monkeypatch.setitem(REQUIRED_FACTS, template_id, facts)


def _with_courtesy_step() -> Any:
    assert DEFAULT_YAML.count(SMS_3) == 1
    return parse_policy(DEFAULT_YAML.replace(SMS_3, SMS_3 + COURTESY_STEP))


def _registered(policy: Any, params: list[str]) -> Any:
    """The policy with the new template's zh-CN text registered with Alibaba Cloud SMS."""
    from dunning.domain.policy import ProviderTemplate

    route = policy.sms_routes[0]
    templates = {**route.templates, TID: ProviderTemplate(code="SMS_900000099", params=params)}
    return policy.model_copy(update={"sms_routes": [route.model_copy(update={"templates": templates})]})


def test_a_new_template_renders_in_both_locales_and_passes_both_lints(
    courtesy_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_template(monkeypatch)
    policy = default_policy()
    for jurisdiction, locale in ((US, "en-US"), (US, "zh-CN"), (CN, "zh-CN")):
        facts = sample_facts(jurisdiction, locale, policy)
        for channel in (Channel.SMS, Channel.EMAIL):
            notice = render(TID, channel, facts, locale, templates_dir=courtesy_root)
            # every fact a dunning notice must show was looked for, and found, in the text and the HTML
            assert set(notice.facts) == set(_ALL_FACTS)
            assert lint_rendered(notice, time_barred=True) == []
    sms = render(TID, Channel.SMS, sample_facts(US, "en-US", policy), "en-US", templates_dir=courtesy_root)
    assert "Due: $1,247.50." in sms.body and sms.body.endswith("Reply STOP to opt out.")
    assert (sms.encoding, sms.segments) == ("GSM-7", 2)

    stepped = _with_courtesy_step()
    # Mainland numbers get texts only in templates registered with the provider: register it.
    assert policy_problems(stepped, templates_dir=courtesy_root) == [
        f"sms route +86 (aliyun): template {TID} zh-CN SMS has no registered code"]
    stepped = _registered(stepped, registered_variables(TID, "zh-CN", courtesy_root))
    assert policy_problems(stepped, templates_dir=courtesy_root) == []
    assert lint_bundled_templates(templates_dir=courtesy_root) == []
    # the same policy against the shipped templates: the step names a template that is not there
    assert "strategy standard: step sms_5: template courtesy_reminder en-US SMS: no such template" in (
        policy_problems(stepped))


def test_the_lints_refuse_a_new_template_that_leaves_out_a_fact_or_threatens(
    courtesy_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (courtesy_root / "en-US" / "courtesy_reminder.sms.j2").write_text(
        "{{ collector }}: your loan ending {{ last4 }} is {{ days_overdue }}, {{ amount }} due. "
        "Pay {{ pay_link }} or else. Call {{ contact_phone }}. {{ opt_out }}", "utf-8")
    stepped = _registered(_with_courtesy_step(), registered_variables(TID, "zh-CN", courtesy_root))
    where = "strategy standard: step sms_5: template courtesy_reminder en-US SMS (US)"
    # without its REQUIRED_FACTS entry, CONTENT looks for the collector's name only
    assert policy_problems(stepped, templates_dir=courtesy_root) == [f"{where}: TONE ultimatum"]
    _register_template(monkeypatch)
    assert policy_problems(stepped, templates_dir=courtesy_root) == [
        f"{where}: CONTENT missing deadline", f"{where}: TONE ultimatum"]


def test_every_template_id_has_its_facts_and_channels() -> None:
    """A template id left out of REQUIRED_FACTS is linted for the collector's name only."""
    assert set(TEMPLATE_IDS) == set(REQUIRED_FACTS) == set(TEMPLATE_CHANNELS)


# =============================================================================== a new locale

# models.py: accounts may carry the locale (the account import refuses any other).
LOCALES: tuple[str, ...] = ("en-US", "zh-CN", "zh-TW")

# render.py: what a notice says in the locale outside its templates, and who reads it.
NEW_LOCALE_TEXTS = {
    "zh-TW": LocaleTexts(
        opt_out_sms="回覆STOP退訂",
        opt_out_email="如不希望再收到此類郵件，可隨時退訂。",
        disclosure="本函來自債務催收方。",
        day_past_due="已逾期{days}天",
        days_past_due="已逾期{days}天",
        gsm7=False,
        sms_segment_budget=3,
        # copied from zh-CN, its reminders leave the day count and the hotline to the page
        sms_page_facts=("days_overdue", "contact_phone"),
    ),
}
NEW_JURISDICTION_LOCALES = {
    Jurisdiction.US: ("en-US", "zh-CN", "zh-TW"),
}

ZH_TW_OVERDUE_SMS = """\
【{{ collector }}】尾號{{ last4 }}借款{{ days_overdue }}，應還{{ amount }}，請於{{ deadline }}前還款：{{ pay_link }}
諮詢{{ contact_phone }}，{{ opt_out }}
"""

BABEL_LOCALES = """\
BABEL_LOCALES := root en en_US zh zh_Hans zh_Hans_CN zh_Hant zh_Hant_TW
"""


@pytest.fixture
def zh_tw_root(tmp_path: Path) -> Path:
    """The bundled templates plus zh-TW: a copy of zh-CN (where a translator starts), one translated."""
    root = tmp_path / "templates"
    shutil.copytree(templates_root(), root)
    (root / "zh-TW").mkdir()
    for source in (root / "zh-CN").iterdir():
        (root / "zh-TW" / source.name).write_text(source.read_text("utf-8").replace('"zh-CN/', '"zh-TW/'), "utf-8")
    (root / "zh-TW" / "overdue_reminder.sms.j2").write_text(ZH_TW_OVERDUE_SMS, "utf-8")
    return root


def test_a_third_locale_renders_and_passes_the_lints(zh_tw_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = default_policy()
    with pytest.raises(ValidationError, match="locale must be one of en-US, zh-CN"):
        sample_account(US, "zh-TW")
    monkeypatch.setattr(models, "LOCALES", LOCALES)
    facts = sample_facts(US, "zh-TW", policy)
    with pytest.raises(UnknownTemplate):  # templates alone are not enough: the locale's texts are missing
        render("overdue_reminder", Channel.SMS, facts, "zh-TW", templates_dir=zh_tw_root)
    for locale, texts in NEW_LOCALE_TEXTS.items():
        monkeypatch.setitem(LOCALE_TEXTS, locale, texts)
    for jurisdiction, locales in NEW_JURISDICTION_LOCALES.items():
        monkeypatch.setitem(JURISDICTION_LOCALES, jurisdiction, locales)

    sms = render("overdue_reminder", Channel.SMS, facts, "zh-TW", templates_dir=zh_tw_root)
    assert sms.body.startswith("【Harbor Consumer Finance】尾號1234借款已逾期12天，應還US$1,247.50，請於")
    assert sms.body.endswith("回覆STOP退訂") and sms.encoding == "UCS-2"
    assert lint_rendered(sms, time_barred=True) == []
    # the locale's disclosure appears where the policy makes the writer an agency
    agency = sample_facts(US, "zh-TW", as_agency(policy, US))
    assert render("first_notice", Channel.EMAIL, agency, "zh-TW", templates_dir=zh_tw_root).validation[
        "disclosure"] == "本函來自債務催收方。"
    # every template in every locale, and every step of the policy in each locale its jurisdictions read
    assert lint_bundled_templates(templates_dir=zh_tw_root) == []
    assert policy_problems(policy, templates_dir=zh_tw_root) == []


def _babel_chain(locale: str) -> set[str]:
    """The Babel locale files a notice locale is loaded from: itself, then its parents up to root."""
    from babel import Locale
    from babel.core import get_global

    name, chain = str(Locale.parse(locale.replace("-", "_"))), set()
    while True:
        chain.add(name)
        if name == "root":
            return chain
        name = get_global("parent_exceptions").get(name) or "_".join(name.split("_")[:-1]) or "root"


def _babel_locales(makefile_text: str) -> set[str]:
    found = re.search(r"^BABEL_LOCALES := (.*)$", makefile_text, re.M)
    assert found is not None
    return set(found[1].split())


def test_a_third_locale_needs_its_babel_data_kept_in_the_layer() -> None:
    shipped = _babel_locales((ROOT / "shared" / "Makefile").read_text("utf-8"))
    extended = _babel_locales(BABEL_LOCALES)
    assert shipped <= extended  # the doc only adds
    assert not _babel_chain("zh-TW") <= shipped  # without the line, the layer prunes zh-TW's data
    assert _babel_chain("zh-TW") <= extended


def test_every_locale_has_its_texts_its_templates_and_its_readers() -> None:
    folders = {path.name for path in templates_root().iterdir() if path.is_dir()}
    assert set(models.LOCALES) == set(LOCALE_TEXTS) == folders
    assert set(JURISDICTION_LOCALES) == set(Jurisdiction)
    assert all(set(locales) <= set(models.LOCALES) for locales in JURISDICTION_LOCALES.values())


# =============================================================================== a new SMS provider

Post = Callable[[dict[str, str]], tuple[int, dict[str, Any]]]


class AcmeSmsSender:
    """Acme's SMS API: one POST per message, answered with the message's id."""

    provider = "acme"  # also its webhook's name: a receipt finds its notice by "acme:<id>"

    def __init__(self, post: Post) -> None:
        self._post = post

    def send(self, message: OutboundMessage) -> str:
        status, body = self._post({"to": message.destination, "text": message.body})
        if status == 429:
            raise TransientError("acme 429")  # certainly not accepted: safe to try again
        if 400 <= status < 500:
            raise ProviderRejected(f"acme {status}")  # refused for good: FAILED, never retried
        if status != 200 or "id" not in body:
            raise RuntimeError(f"acme {status}")  # it may have gone out: UNCERTAIN, never resent
        return str(body["id"])


def json_post(url: str, api_key: str) -> Post:
    """One POST with a timeout and no retries: a retried POST could text the customer twice."""

    def post(payload: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers={
            "authorization": f"Bearer {api_key}", "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the configured API URL
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    return post


class AcmeSettings(MessagingSettings):
    sms_provider: Literal["sns", "acme"] = "sns"  # SMS_PROVIDER
    acme_api_url: str | None = None
    acme_secret_name: str | None = None


class AcmePorts(AwsPorts[AcmeSettings]):
    @cached_property
    def acme_api_key(self) -> str:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(self._setting("acme_secret_name"), max_age=3600))

    def sender(self, channel: Channel) -> Sender:
        if channel is Channel.SMS and self._setting("sms_provider") == "acme":
            return AcmeSmsSender(json_post(self._setting("acme_api_url"), self.acme_api_key))
        return super().sender(channel)


@dataclass
class FakeAcmeApi:
    """Acme's side: answers in order (then 200 with a new id), and every payload it was sent."""

    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, payload: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.calls.append(payload)
        return self.answers.pop(0) if self.answers else (200, {"id": f"acme-{len(self.calls)}"})


ACCOUNT, CASE, PHONE = "acc-1001", "acc-1001-20261102", "+12025550143"


def acme_ports(api: FakeAcmeApi) -> FakePorts:
    """An open case for a delinquent US account, its SMS going through Acme."""
    ports = FakePorts(sms=AcmeSmsSender(api))  # type: ignore[arg-type]
    ports.clock.at = NOW
    account = make_account()
    ports.accounts.put(account, None)
    case = Case(case_id=CASE, account_id=ACCOUNT, opened_at=NOW, strategy_id="standard", variant="champion")
    ports.collections.commit(CaseRecord(case, -1, GENESIS), [(EntryKind.CASE_OPENED, {})], at=NOW, actor="test",
                             create=True)
    ports.collections.put_contact(ACCOUNT, ports.keys.phone_hash(account.contact.phone))
    return ports


def send_sms_3(ports: FakePorts) -> escalation.SendResult:
    return escalation.send(ports, ports.sender(Channel.SMS), CASE, ACCOUNT, "sms_3", Channel.SMS,
                           "overdue_reminder", actor="test")


def test_a_new_sms_provider_sends_a_notice_at_most_once() -> None:
    api = FakeAcmeApi()
    ports = acme_ports(api)
    assert send_sms_3(ports).status == "SENT"
    assert api.calls[0]["to"] == PHONE and "Reply STOP to opt out." in api.calls[0]["text"]
    notice = ports.collections.notices[(ACCOUNT, CASE, "sms_3")]
    assert (notice.status, notice.provider_message_id) == (NoticeStatus.SENT, "acme:acme-1")
    assert send_sms_3(ports).status == "SENT"  # the step's second send is answered from the record
    assert len(api.calls) == 1


@pytest.mark.parametrize(("answer", "recorded"), [((502, {}), "UNCERTAIN"), ((200, {}), "UNCERTAIN"),
                                                  ((400, {}), "FAILED")])
def test_a_send_whose_outcome_is_unknown_or_refused_is_never_repeated(
    answer: tuple[int, dict[str, Any]], recorded: str
) -> None:
    api = FakeAcmeApi(answers=[answer])
    ports = acme_ports(api)
    assert send_sms_3(ports).status == recorded
    assert send_sms_3(ports).status == recorded
    assert len(api.calls) == 1


def test_a_throttled_send_was_not_accepted_and_is_tried_again() -> None:
    api = FakeAcmeApi(answers=[(429, {})])
    ports = acme_ports(api)
    with pytest.raises(TransientError):  # Step Functions retries the plan
        send_sms_3(ports)
    assert (ACCOUNT, CASE, "sms_3") not in ports.collections.notices  # the at-most-once gate is released
    assert send_sms_3(ports).status == "SENT"
    assert len(api.calls) == 2


def test_the_composition_root_picks_the_provider_its_settings_name() -> None:
    settings = AcmeSettings(accounts_table="accounts", collections_table="collections",  # type: ignore[call-arg]
                            ses_from_address="collections@lender.example", ses_configuration_set="notices",
                            link_secret_name="link", sms_provider="acme", acme_api_url="https://sms.acme.example",
                            acme_secret_name="acme")
    ports = AcmePorts(settings)
    ports.__dict__["acme_api_key"] = "acme-key"  # what Secrets Manager would answer
    assert isinstance(ports.sender(Channel.SMS), AcmeSmsSender)
    assert isinstance(ports.sender(Channel.EMAIL), SesEmailSender)
    assert type(AcmePorts(settings.model_copy(update={"sms_provider": "sns"})).sender(Channel.SMS)).__name__ == (
        "SnsSmsSender")


@pytest.fixture
def acme_http() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Acme's API on 127.0.0.1: POST /messages answers 200 with an id, POST /busy answers 429."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append({"body": body, "authorization": self.headers["authorization"]})
            status, answer = (429, b"") if self.path == "/busy" else (200, b'{"id": "acme-77"}')
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.enable_socket
def test_the_transport_posts_once_and_hands_back_the_status(acme_http: tuple[str, list[dict[str, Any]]]) -> None:
    base, seen = acme_http
    sender = AcmeSmsSender(json_post(f"{base}/messages", "acme-key"))
    assert sender.send(OutboundMessage(destination=PHONE, body="hello")) == "acme-77"
    assert seen == [{"body": {"to": PHONE, "text": "hello"}, "authorization": "Bearer acme-key"}]
    with pytest.raises(TransientError):
        AcmeSmsSender(json_post(f"{base}/busy", "acme-key")).send(OutboundMessage(destination=PHONE, body="x"))
    assert len(seen) == 2


# ----------------------------------------------------------------------------- inbound: the webhook

_ACME_STATUSES: dict[str, ReceiptStatus] = {"delivered": "DELIVERED", "failed": "FAILED"}


def _acme(secret: str, request: WebhookRequest, now: datetime) -> WebhookMessage:
    """Acme signs the raw body: X-Acme-Signature = hex HMAC-SHA256(secret, body)."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not _same(expected, request.headers.get("x-acme-signature", "")):
        raise BadSignature("signature does not match")
    try:
        event = json.loads(request.body)
        kind, message_id = str(event["event"]), str(event["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedPayload("expected a JSON object with event and id") from exc
    if kind == "inbound":
        if not isinstance(event.get("from"), str) or not isinstance(event.get("text"), str):
            raise MalformedPayload("an inbound message needs from and text")
        return InboundSms(provider="acme", message_id=message_id, from_number=event["from"], to_number=None,
                          text=event["text"], received_at=now)
    return DeliveryReceipt(provider="acme", message_id=message_id, status=_ACME_STATUSES.get(kind),
                           provider_status=kind, at=now)


ACME_SECRET = "acme-webhook-secret"


def acme_request(event: dict[str, Any], secret: str = ACME_SECRET) -> WebhookRequest:
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest(headers={"x-acme-signature": signature}, body=body,
                          url="https://hooks.lender.example/webhooks/sms/acme")


def read_acme(request: WebhookRequest) -> WebhookMessage:
    return read_webhook("acme", request, lambda: {"acme": ACME_SECRET}, NOW)


def test_a_new_webhook_provider_reads_receipts_and_replies_into_the_same_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(UnknownProvider):
        read_acme(acme_request({"event": "delivered", "id": "acme-1"}))
    monkeypatch.setitem(webhooks.PROVIDERS, "acme", _acme)
    api = FakeAcmeApi()
    ports = acme_ports(api)
    send_sms_3(ports)

    receipt = read_acme(acme_request({"event": "delivered", "id": "acme-1"}))
    assert isinstance(receipt, DeliveryReceipt)
    assert deliveries.handle_receipt(ports, receipt)["status"] != "UNKNOWN_MESSAGE"
    assert ports.collections.notices[(ACCOUNT, CASE, "sms_3")].status is NoticeStatus.DELIVERED

    stop = read_acme(acme_request({"event": "inbound", "id": "in-1", "from": PHONE, "text": "STOP"}))
    assert isinstance(stop, InboundSms)
    assert replies.handle_inbound(ports, stop)["status"] == "RECORDED"
    assert Channel.SMS in ports.accounts.get(ACCOUNT).opted_out
    assert len(api.calls) == 2 and api.calls[1]["to"] == PHONE  # the confirmation went out through Acme


def test_a_new_webhook_provider_checks_the_signature_before_it_reads_the_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(webhooks.PROVIDERS, "acme", _acme)
    forged = acme_request({"event": "inbound", "id": "in-2", "from": PHONE, "text": "STOP"}, secret="guess")
    with pytest.raises(BadSignature) as refused:
        read_acme(forged)
    assert refused.value.status == 403
    with pytest.raises(BadSignature):
        read_acme(WebhookRequest(headers={}, body=b"not json", url="https://hooks.lender.example/x"))
    signed_garbage = acme_request({"id": "in-3"})
    with pytest.raises(MalformedPayload) as malformed:
        read_acme(signed_garbage)
    assert malformed.value.status == 400


# =============================================================================== a new policy field and
# =============================================================================== a new compliance rule
# Neither a pydantic model nor a StrEnum takes a new member at run time: these edits are applied,
# exactly as the doc shows them, to a copy of the layer, and the copy is run in a subprocess.

REASON_CODE = """\
    CALL_SPACING = "CALL_SPACING"
"""

POLICY_FIELD = """\
    # Hours between two calls to a customer (CALL_SPACING); 0, the default, spaces nothing.
    min_hours_between_calls: int = Field(default=0, ge=0, le=72)
"""

POLICY_LINT = """\
        calls = jp.caps.min_hours_between_calls
        if calls >= window.end.hour - window.start.hour:
            problems.append(f"jurisdiction {jurisdiction}: min_hours_between_calls {calls} leaves room "
                            f"for one call a day")
"""

RULE = '''\
def _rule_call_spacing(ctx: _Context, t: datetime) -> list[_Finding]:
    """CALL_SPACING: at most one call per `caps.min_hours_between_calls`."""
    hours = ctx.rules.caps.min_hours_between_calls
    calls = [r.at for r in ctx.counted if r.channel is Channel.CALL]
    if ctx.is_service or ctx.attempt.channel is not Channel.CALL or hours == 0 or not calls:
        return []
    free_at = max(calls) + timedelta(hours=hours)
    if free_at <= t:
        return []
    return [_defer(ReasonCode.CALL_SPACING, f"a call less than {hours} h ago", free_at)]
'''

RULES_ENTRY = """\
    _rule_spacing,
    _rule_call_spacing,
)
"""

POLICY_YAML = """\
      min_hours_between_calls: 8
"""

# (file in the layer, the text it has today, what the doc makes of it)
LAYER_EDITS = [
    ("domain/models.py", '    TONE = "TONE"\n', '    TONE = "TONE"\n' + REASON_CODE),
    ("domain/policy.py",
     "    unanswered_calls_per_day_per_number: int | None = Field(default=None, ge=0)  # CN guideline: 6\n",
     "    unanswered_calls_per_day_per_number: int | None = Field(default=None, ge=0)  # CN guideline: 6\n"
     + POLICY_FIELD),
    ("domain/policy_lint.py",
     '            problems.append(f"jurisdiction {jurisdiction}: more than 3 messages a day per channel")\n',
     '            problems.append(f"jurisdiction {jurisdiction}: more than 3 messages a day per channel")\n'
     + POLICY_LINT),
    ("domain/compliance.py", "\n\n_RULES: tuple[_Rule, ...] = (\n",
     "\n\n" + RULE + "\n\n_RULES: tuple[_Rule, ...] = (\n"),
    ("domain/compliance.py", "    _rule_spacing,\n)\n", RULES_ENTRY),
]

SPACING_SCRIPT = """
import json, sys
from datetime import timedelta

import dunning
from dunning.domain.compliance import Attempt, AttemptKind, ContactOutcome, ContactRecord, check
from dunning.domain.models import Channel, Jurisdiction
from dunning.domain.notices.samples import SAMPLE_NOW, sample_account
from dunning.domain.policy import PolicyError, parse_policy
from dunning.domain.policy_lint import policy_problems

default, anchor, line = sys.stdin.read().split("\\x00")

def spaced(hours):
    return parse_policy(default.replace(anchor, anchor + line.replace("8", hours), 1))

def problems(hours):
    try:
        spaced(hours)
    except PolicyError as exc:
        return exc.problems
    return []

policy = spaced("8")
account = sample_account(Jurisdiction.US)
# a call 5 h ago: past the person-wide spacing, inside the 8 h between calls
history = [ContactRecord(at=SAMPLE_NOW - timedelta(hours=5), channel=Channel.CALL,
                         outcome=ContactOutcome.CALL_NO_ANSWER)]
call = Attempt(channel=Channel.CALL)
deferred = check(call, account, None, history, policy, SAMPLE_NOW)
print(json.dumps({
    "layer": dunning.__file__,
    "us": policy.jurisdictions[Jurisdiction.US].caps.min_hours_between_calls,
    "cn": policy.jurisdictions[Jurisdiction.CN].caps.min_hours_between_calls,
    "bad": {value: problems(value) for value in ("-1", "often", "100")},
    "lint_8": policy_problems(policy),
    "lint_13": [p for p in policy_problems(spaced("13")) if "min_hours_between_calls" in p],
    "deferred": [deferred.verdict, deferred.until.isoformat(), deferred.reasons],
    "at_until": check(call, account, None, history, policy, deferred.until).verdict,
    "unspaced": check(call, account, None, history, parse_policy(default), SAMPLE_NOW).verdict,
    "sms": check(Attempt(channel=Channel.SMS), account, None, history, policy, SAMPLE_NOW).verdict,
}))
"""

US_CAPS = "      email_per_day: 1\n"  # the US jurisdiction's caps come first in the default policy


@pytest.fixture(scope="module")
def spaced_layer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The layer with the doc's SPACING edits applied, run in its own interpreter."""
    copy = tmp_path_factory.mktemp("layer")
    shutil.copytree(LAYER, copy / "dunning", ignore=shutil.ignore_patterns("__pycache__"))
    for name, today, edited in LAYER_EDITS:
        path = copy / "dunning" / name
        text = path.read_text("utf-8")
        assert text.count(today) == 1, f"docs/extending.md edits {name} at a line that changed: {today!r}"
        path.write_text(text.replace(today, edited), "utf-8")
    result = subprocess.run([sys.executable, "-c", SPACING_SCRIPT], input="\x00".join((DEFAULT_YAML, US_CAPS,
                            POLICY_YAML)), capture_output=True, text=True, timeout=120, check=False,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "TZ": "UTC"}, cwd=copy)
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout)
    assert out["layer"].startswith(str(copy))
    return out


def test_a_new_policy_field_has_a_default_is_validated_and_linted(spaced_layer: dict[str, Any]) -> None:
    assert (spaced_layer["us"], spaced_layer["cn"]) == (8, 0)  # CN leaves it out: the default, no spacing
    where = "jurisdictions.US.caps.min_hours_between_calls"
    assert spaced_layer["bad"] == {
        "-1": [f"{where}: Input should be greater than or equal to 0"],
        "often": [f"{where}: Input should be a valid integer, unable to parse string as an integer"],
        "100": [f"{where}: Input should be less than or equal to 72"],
    }
    assert spaced_layer["lint_8"] == []
    assert spaced_layer["lint_13"] == ["jurisdiction US: min_hours_between_calls 13 leaves room for one call a day"]


def test_a_new_compliance_rule_defers_to_an_instant_it_then_allows(spaced_layer: dict[str, Any]) -> None:
    until = (SAMPLE_NOW + timedelta(hours=3)).isoformat()  # a call 5 h ago, 8 h apart
    assert spaced_layer["deferred"] == ["DEFER", until, ["CALL_SPACING"]]
    assert spaced_layer["at_until"] == "ALLOW"
    assert spaced_layer["unspaced"] == "ALLOW"  # a policy without the field allows what it allowed before
    assert spaced_layer["sms"] == "ALLOW"  # only calls are spaced by it


# ----------------------------------------------------------------------------- the rules' contract

def _rule_table() -> dict[str, set[str]]:
    """docs/architecture.md's compliance rules table: rule function -> its reason codes."""
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    rows = re.findall(r"^\| `(_rule_\w+)` \| ([A-Z_, ]+) \|", text, re.M)
    return {name: {code.strip() for code in codes.split(",")} for name, codes in rows}


def _codes_named_in(rule: Callable[..., Any]) -> set[str]:
    tree = ast.parse(inspect.getsource(rule))
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "ReasonCode"}


def test_every_rule_is_listed_in_rules_and_documented_with_its_codes() -> None:
    defined = {name for name, value in vars(compliance).items() if name.startswith("_rule_") and callable(value)}
    listed = [rule.__name__ for rule in compliance._RULES]
    assert set(listed) == defined  # a rule left out of _RULES never runs
    table = _rule_table()
    assert list(table) == listed
    for rule in compliance._RULES:
        named = _codes_named_in(rule)
        if rule is compliance._rule_content:  # its findings are the notice lint's: CONTENT and TONE
            named |= {ReasonCode.CONTENT.value, ReasonCode.TONE.value}
        assert table[rule.__name__] == named, rule.__name__
    assert set().union(*table.values()) <= {code.value for code in ReasonCode}


def _contexts() -> Iterator[tuple[Any, datetime]]:
    """Situations every rule is asked about: each channel and kind, with and without a case and
    history, inside the window and at night."""
    policy, account = default_policy(), sample_account(US)
    zones = tuple(ZoneInfo(z) for z in account.time_zones)
    history = tuple(ContactRecord(at=SAMPLE_NOW - timedelta(hours=h), channel=channel, outcome=outcome)
                    for h, channel, outcome in ((50, Channel.EMAIL, ContactOutcome.UNCERTAIN),
                                                (30, Channel.CALL, ContactOutcome.CALL_CONVERSATION),
                                                (2, Channel.SMS, ContactOutcome.SENT)))  # oldest first
    paused = Case(case_id="c-1", account_id=account.account_id, opened_at=SAMPLE_NOW, status=CaseStatus.PAUSED,
                  paused_until=SAMPLE_NOW + timedelta(days=2))
    for channel in (Channel.SMS, Channel.EMAIL, Channel.CALL):
        for kind in AttemptKind:
            for case in (None, paused):
                for records in ((), history):
                    for t in (SAMPLE_NOW, SAMPLE_NOW + timedelta(hours=12)):
                        ctx = compliance._Context(
                            attempt=Attempt(channel=channel, kind=kind), account=account, case=case,
                            history=records, counted=records, policy=policy,
                            rules=policy.for_jurisdiction(account.jurisdiction), zones=zones)
                        yield ctx, t


def test_every_rule_answers_with_findings_that_name_their_code() -> None:
    seen: set[ReasonCode] = set()
    for ctx, t in _contexts():
        for rule in compliance._RULES:
            findings = rule(ctx, t)
            assert isinstance(findings, list), rule.__name__
            for finding in findings:
                assert isinstance(finding, compliance._Finding) and isinstance(finding.code, ReasonCode)
                assert finding.detail.startswith(f"{finding.code}: ")  # a reason the ledger can show
                assert finding.not_before is None or finding.not_before > t  # a DEFER points ahead
                seen.add(finding.code)
    assert len(seen) >= 4  # the situations do make the rules speak


# =============================================================================== the doc itself

_FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.M | re.S)
_SOURCES = [ROOT / "template.yaml", ROOT / "shared" / "Makefile",
            *sorted((ROOT / "shared" / "dunning").rglob("*.py")), *sorted((ROOT / "sandbox").rglob("*.py")),
            *sorted((ROOT / "functions").rglob("*.py"))]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i:i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def test_every_code_block_in_the_doc_is_code_that_runs() -> None:
    """Each code block (commands aside) is, line for line, in this test module or in the shipped code;
    ``...`` stands for lines left out."""
    doc = DOC.read_text("utf-8")
    here = _lines(Path(__file__).read_text("utf-8"))
    shipped = [_lines(path.read_text("utf-8")) for path in _SOURCES]
    blocks = [(lang, body) for lang, body in _FENCE.findall(doc) if lang not in ("sh", "text")]
    assert len(blocks) >= 10
    for lang, body in blocks:
        chunks: list[list[str]] = [[]]
        for line in _lines(body):
            if line == "...":
                chunks.append([])
            else:
                chunks[-1].append(line)
        for chunk in filter(None, chunks):
            assert _contains(here, chunk) or any(_contains(lines, chunk) for lines in shipped), (
                f"a {lang} block in docs/extending.md is not code that runs:\n" + "\n".join(chunk))


def test_every_test_the_doc_points_at_exists() -> None:
    named = set(re.findall(r"test_extending\.py::(test_\w+)", DOC.read_text("utf-8")))
    defined = {name for name in globals() if name.startswith("test_")}
    assert named and named <= defined, sorted(named - defined)
    assert {name for name in defined if name != "test_every_test_the_doc_points_at_exists"} <= named | {
        "test_every_code_block_in_the_doc_is_code_that_runs"}
