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
    with LocalApi(port=0, accounts=8, seed=10) as local:
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
