"""The customer's page in a real browser: headless Chromium from the distribution's packages,
driven by Selenium against `dunning serve` (the links it prints, the facts it prints with them).

Few and broad on purpose: the service's own tests cover every action and every hostile input;
these prove a person with a browser can open a notice's link, verify, act, and that the case
and its ledger say what they chose. They skip, saying why, where the browser is not installed
(`.ci/run` installs it, so CI always runs them).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.serve import HOST, LocalApi

# The distribution's browser and driver (DUNNING_CHROMIUM / DUNNING_CHROMEDRIVER point elsewhere).
CHROMIUM = os.environ.get("DUNNING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("DUNNING_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip("no chromium/chromedriver: apt-get install -y chromium chromium-driver", allow_module_level=True)

from axe_selenium_python import Axe  # noqa: E402 - only where the browser is
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.enable_socket, pytest.mark.browser]


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    with LocalApi(port=0, accounts=24, seed=10) as local:
        local.start()
        yield local
        local.shutdown()


@pytest.fixture(scope="module")
def links(api: LocalApi) -> dict[str, str]:
    found = api.page_links()
    assert {"LINK_EN_US", "LINK_ZH_CN", "VERIFY_EN_US", "VERIFY_ZH_CN"} <= set(found)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--window-size=800,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def visitor(browser: WebDriver) -> WebDriver:
    browser.delete_all_cookies()  # each test is a new visit
    return browser


def main(browser: WebDriver) -> Any:
    return browser.find_element(By.TAG_NAME, "main")


def submit(browser: WebDriver, action: str) -> None:
    """Press the form's own button and wait for the next page, as a person would."""
    old = main(browser)
    browser.find_element(By.CSS_SELECTOR, f'form[data-action="{action}"] button[type="submit"]').click()
    WebDriverWait(browser, 30).until(lambda b: main(b).id != old.id)


def verify(browser: WebDriver, link: str, answer: str) -> None:
    browser.get(link)
    assert main(browser).get_attribute("data-state") == "verify"
    field = browser.find_element(By.CSS_SELECTOR, 'form[data-action="verify"] [name="answer"]')
    if field.get_attribute("type") == "date":
        # A date field takes typing in the browser's own locale order; set it as the picker would.
        browser.execute_script("arguments[0].value = arguments[1]", field, answer)
    else:
        field.send_keys(answer)
    submit(browser, "verify")
    assert main(browser).get_attribute("data-state") == "account"


def open_section(browser: WebDriver, action: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"details#{action} > summary").click()


def show_case(api: LocalApi, account_id: str) -> dict[str, Any]:
    case_id = dict(api.collection_cases())[account_id]
    body = json.dumps({"command": {"type": "show_case", "account_id": account_id, "case_id": case_id}})
    conn = http.client.HTTPConnection(HOST, api.port, timeout=30)
    try:
        conn.request("POST", "/admin", body=body, headers={"content-type": "application/json",
                                                         "authorization": f"Bearer {api.admin_token}"})
        result: dict[str, Any] = json.loads(conn.getresponse().read())
        return result
    finally:
        conn.close()


def account_of(link: str) -> str:
    """The account a link is for (its claims are signed, not secret: only an id)."""
    claims = link.rsplit("/", 1)[1].split(".")[0]
    account_id: str = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["a"]
    return account_id


def next_decision(api: LocalApi, account_id: str) -> dict[str, Any]:
    """What PlanNextActionFunction decides for the case now (the escalation's next turn)."""
    case_id = dict(api.collection_cases())[account_id]
    out = api.lam.invoke(FunctionName=api.stack.function_name("PlanNextActionFunction"),
                         Payload=json.dumps({"case_id": case_id, "account_id": account_id}).encode())
    decision: dict[str, Any] = json.loads(out["Payload"].read())
    return decision


_USED: set[str] = set()


def another_case(api: LocalApi, locale: str) -> tuple[str, str, str]:
    """(link, verification fact, account id) of an overdue account of `locale` with an open case
    that no other test has acted on."""
    from datetime import UTC, datetime

    open_cases = {account_id for account_id, _ in api.collection_cases()}
    account = next(a for a in api.portfolio if a.locale == locale and a.account_id in open_cases
                   and a.account_id not in _USED and a.account_id not in
                   {account_of(v) for k, v in api.page_links().items() if k.startswith("LINK_")})
    _USED.add(account.account_id)
    return api.page_link(account.account_id, datetime.now(UTC)), account.verification, account.account_id


def page_entries(shown: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [e for e in shown["ledger"] if e["kind"] == "PAGE" and e["data"].get("action") == action]


def confirmed(shown: dict[str, Any], template_id: str) -> bool:
    """The action's written confirmation went out, recorded like any notice."""
    return any(n["template_id"] == template_id and n["step_id"].startswith("service_")
               and n["status"] in ("SENT", "DELIVERED") for n in shown["notices"])


def test_in_english_a_customer_verifies_and_agrees_a_plan_that_the_case_then_follows(
        api: LocalApi, links: dict[str, str], visitor: WebDriver) -> None:
    verify(visitor, links["LINK_EN_US"], links["VERIFY_EN_US"])
    assert visitor.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-US"
    assert main(visitor).get_attribute("data-arrangement") == "none"

    open_section(visitor, "plan")
    choices = visitor.find_elements(By.CSS_SELECTOR, 'form[data-action="plan"] input[name="choice"]')
    choices[-1].click()  # the longest plan on offer, its schedule shown beside it
    count = choices[-1].get_attribute("data-count")
    submit(visitor, "plan")

    assert main(visitor).get_attribute("data-arrangement") == "plan"
    shown = show_case(api, account_of(links["LINK_EN_US"]))
    assert shown["case_status"] == "IN_PLAN"
    assert str(len(shown["case"]["plan"]["instalments"])) == count
    assert any(e["kind"] == "PAGE" and e["actor"] == "customer" for e in shown["ledger"])
    assert confirmed(shown, "plan_confirmation")
    # The escalation now follows the plan: instalment reminders, never the dunning ladder.
    decision = next_decision(api, account_of(links["LINK_EN_US"]))
    assert {"PLAN_ACTIVE", "INSTALMENT_DUE"} & set(decision["reasons"]), decision
    assert decision.get("template_id") in (None, "instalment_reminder")


def test_in_chinese_a_customer_verifies_and_promises_a_date_that_holds_the_case(
        api: LocalApi, links: dict[str, str], visitor: WebDriver) -> None:
    verify(visitor, links["LINK_ZH_CN"], links["VERIFY_ZH_CN"])
    assert visitor.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"

    open_section(visitor, "promise")
    day = visitor.find_element(By.ID, "promised_on")
    promised_on = day.get_attribute("max")
    visitor.execute_script("arguments[0].value = arguments[1]", day, promised_on)
    submit(visitor, "promise")

    assert main(visitor).get_attribute("data-arrangement") == "promise"
    shown = show_case(api, account_of(links["LINK_ZH_CN"]))
    assert shown["case_status"] == "PROMISED"
    assert shown["case"]["promise"]["promised_on"] == promised_on
    assert confirmed(shown, "promise_confirmation")
    # Notices hold until the promised day (and its grace): the next turn waits for it.
    decision = next_decision(api, account_of(links["LINK_ZH_CN"]))
    assert decision["action"] == "WAIT" and "PROMISE_PENDING" in decision["reasons"]


def test_hardship_pauses_the_case_with_a_plan_offer_and_the_escalation_waits(
        api: LocalApi, visitor: WebDriver) -> None:
    link, fact, account_id = another_case(api, "en-US")
    verify(visitor, link, fact)
    open_section(visitor, "hardship")
    visitor.find_element(By.ID, "hardship-illness").click()
    submit(visitor, "hardship")

    assert main(visitor).get_attribute("data-arrangement") == "pause"
    shown = show_case(api, account_id)
    assert shown["case_status"] == "PAUSED" and shown["case"]["plan"]["status"] == "OFFERED"
    [entry] = page_entries(shown, "hardship")
    assert entry["actor"] == "customer" and confirmed(shown, "plan_offer")
    decision = next_decision(api, account_id)
    assert decision["action"] == "WAIT" and "HARDSHIP_PAUSE" in decision["reasons"]


def test_a_dispute_puts_the_case_on_hold_and_queues_its_review(api: LocalApi, visitor: WebDriver) -> None:
    link, fact, account_id = another_case(api, "en-US")
    verify(visitor, link, fact)
    open_section(visitor, "dispute")
    visitor.find_element(By.ID, "dispute-wrong_amount").click()
    visitor.find_element(By.ID, "details").send_keys("The fee was charged twice. <b>not markup</b>")
    submit(visitor, "dispute")

    assert main(visitor).get_attribute("data-arrangement") == "dispute"
    shown = show_case(api, account_id)
    assert shown["case_status"] == "DISPUTED"
    [entry] = page_entries(shown, "dispute")
    assert entry["data"]["callback"] == "DISPUTE_REVIEW" and confirmed(shown, "dispute_acknowledgement")
    assert "charged twice" in json.dumps(entry)  # the admin reads the customer's words ...
    stored = api.session.client("dynamodb").scan(TableName=api.stack.table("CollectionsTable"))["Items"]
    assert "charged twice" not in json.dumps(stored)  # ... which are stored encrypted
    decision = next_decision(api, account_id)
    assert decision["action"] == "WAIT" and "DISPUTED" in decision["reasons"]


def test_in_chinese_a_customer_books_a_call_back_in_a_slot_inside_the_window(
        api: LocalApi, visitor: WebDriver) -> None:
    link, fact, account_id = another_case(api, "zh-CN")
    verify(visitor, link, fact)
    open_section(visitor, "callback")
    options = visitor.find_elements(By.CSS_SELECTOR, "#slot option")
    assert options, "no call-back slot offered"
    options[-1].click()
    slot = options[-1].get_attribute("value")
    submit(visitor, "callback")

    shown = show_case(api, account_id)
    [entry] = page_entries(shown, "callback")
    assert entry["data"]["callback"] == "CALL_ME" and entry["data"]["applied"]
    assert slot and confirmed(shown, "callback_confirmation")


def test_preferences_opt_out_of_texts_and_the_escalation_no_longer_texts(
        api: LocalApi, visitor: WebDriver) -> None:
    link, fact, account_id = another_case(api, "en-US")
    verify(visitor, link, fact)
    open_section(visitor, "preferences")
    sms = visitor.find_element(By.ID, "pref-sms")
    if sms.is_selected():
        sms.click()
    visitor.find_element(By.CSS_SELECTOR, '#language option[value="zh-CN"]').click()
    submit(visitor, "preferences")

    shown = show_case(api, account_id)
    assert "SMS" in shown["account"]["opted_out"] and shown["account"]["preferred_locale"] == "zh-CN"
    [entry] = page_entries(shown, "preferences")
    assert ["OPT_OUT", "SMS"] in entry["data"]["account_changes"]
    for _ in range(3):  # whatever the next turns decide, none of them is a text
        decision = next_decision(api, account_id)
        assert decision.get("channel") != "SMS", decision


def test_pay_hands_off_to_the_portal_with_a_reference_and_no_personal_data(
        api: LocalApi, visitor: WebDriver) -> None:
    link, fact, account_id = another_case(api, "en-US")
    verify(visitor, link, fact)
    portal = api.stack.parameters["PayBaseUrl"]
    visitor.find_element(By.CSS_SELECTOR, 'form[data-action="pay"] button[type="submit"]').click()
    WebDriverWait(visitor, 30).until(lambda b: b.current_url.startswith(portal))
    url = visitor.current_url
    account = next(a for a in api.portfolio if a.account_id == account_id)
    for private in (account_id, account.phone, account.email, account.customer_name, account.account_number, fact):
        assert not private or str(private) not in url
    shown = show_case(api, account_id)
    assert page_entries(shown, "pay") and shown["case_status"] != "RESOLVED"  # the payment comes by PaymentPosted


def test_the_page_reads_on_a_small_phone_and_axe_finds_nothing_serious(
        links: dict[str, str], visitor: WebDriver) -> None:
    # A 360 px phone (a desktop window cannot be made that narrow).
    visitor.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    visitor.get(links["LINK_EN_US"])
    pages = {"verify": _serious(visitor)}
    verify(visitor, links["LINK_EN_US"], links["VERIFY_EN_US"])
    for details in visitor.find_elements(By.CSS_SELECTOR, "details > summary"):
        details.click()  # every form open: labels and focus order checked on all of them
    pages["account"] = _serious(visitor)
    assert pages == {"verify": [], "account": []}
    assert visitor.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]") == [360, 360]
    visitor.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _serious(browser: WebDriver) -> list[str]:
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    return [v["id"] for v in results["violations"] if v.get("impact") in ("serious", "critical")]
