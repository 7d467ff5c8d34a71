"""The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): it
loads with a token, draws the attainment chart, shows the right numbers, the open clocks by
remaining time with the at-risk one highlighted, and the credit statement; another
customer's dashboard shows nothing to this token. With objectives configured it shows each
objective of the month (target, attainment, tier), as the API's reports and CSV do."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import AS_OF, CONFIG
from tests.e2e.test_api_harness import ApiServer, serve, sqlite_serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if shutil.which("apt-get"):  # as make test does (Makefile: browser)
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=900
        )
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from sqlite_serve(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 1400},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    page.close()


def _open(page: Any, server: ApiServer, customer: str, token: str | None, **query: str) -> None:
    url = f"{server.url}/dashboard/{customer}"
    if query:
        url += "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    if token is not None:
        url += f"#token={quote(server.tokens[token])}"
    page.goto(url)


def test_dashboard_shows_chart_numbers_open_clocks_and_credits(
    page: Any, server: ApiServer, tmp_path: Path
) -> None:
    _open(page, server, "globex", "globex", as_of=AS_OF)
    page.wait_for_selector("body[data-loaded='true']", timeout=20_000)
    assert "#token" not in page.url  # the fragment left the address bar...
    assert page.evaluate("sessionStorage.getItem('slaclock.token')") == server.tokens["globex"]
    assert page.text_content("#title") == "globex"

    # The chart: bars per month and metric, September's totals (response 2 of 3 met).
    bars = page.locator("#chart svg rect.bar[data-month]")
    assert bars.count() == 2
    response_bar = page.locator("#chart rect[data-month='2025-09'][data-metric='response']")
    assert float(response_bar.get_attribute("data-attainment")) == pytest.approx(0.6667)
    assert response_bar.get_attribute("data-breached") == "1"
    assert page.locator("#month").input_value() == "2025-09"

    # The detail table: response P1 in 2025-09 is 0.5.
    row = page.locator("#attainment-table tr[data-metric='response'][data-priority='1']")
    assert row.locator("td.attainment").get_attribute("data-value") == "0.5"
    assert row.locator("td.attainment").text_content() == "50.0%"
    assert page.locator("#attainment-table tbody tr").count() == 4

    # Open clocks, least time remaining first; T-9001's response (15 min of 3 h) is at risk.
    rows = page.locator("#clocks-table tbody tr")
    order = [
        (rows.nth(i).get_attribute("data-ticket"), rows.nth(i).get_attribute("data-metric"))
        for i in range(rows.count())
    ]
    assert order[0] == ("T-9001", "response")
    assert set(order) == {
        ("T-9001", "response"),
        ("T-9001", "resolution"),
        ("T-9002", "response"),
        ("T-9002", "resolution"),
    }
    seconds = [
        int(rows.nth(i).locator("td.remaining").get_attribute("data-seconds")) for i in range(4)
    ]
    assert seconds == sorted(seconds) and seconds[0] == 900
    at_risk = page.locator("#clocks-table tr.risk-at_risk")
    assert at_risk.count() == 1 and at_risk.get_attribute("data-ticket") == "T-9001"
    assert at_risk.locator("td.remaining").text_content() == "15m"
    background = at_risk.evaluate("row => getComputedStyle(row).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")  # highlighted

    # The credit statement for September.
    assert page.text_content("#credits-month") == "2025-09 (EUR)"
    entries = page.locator("#credits-table tbody tr")
    assert entries.count() == 2
    assert [entries.nth(i).locator("td").nth(0).text_content() for i in range(2)] == [
        "T-2002",
        "T-2002",
    ]
    assert page.text_content("#credits-subtotal") == "31.80"
    assert page.text_content("#credits-cap") == "79.50"
    assert page.text_content("#credits-total") == "31.80"

    # Another month from the selector.
    page.select_option("#month", "2025-10")
    page.click("#controls button[type=submit]")
    expect(page.locator("#credits-month")).to_have_text("2025-10 (EUR)")
    assert page.locator("#credits-table tbody tr").count() == 0
    assert page.text_content("#credits-total") == "0.00"

    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert page.errors == []


def test_dashboard_login_form_and_wrong_customer(page: Any, server: ApiServer) -> None:
    page.goto(f"{server.url}/dashboard/acme?as_of={quote(AS_OF)}")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#token-input", "slk_wrong")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "not accepted" in page.text_content("#login-error")

    page.fill("#token-input", server.tokens["acme"])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-loaded='true']")
    assert page.locator("#attainment-table tbody tr").count() >= 1
    assert page.text_content("#credits-total") == "26.20"
    clocks = page.locator("#clocks-table tbody tr")
    assert clocks.first.get_attribute("data-ticket") == "T-1004"  # breached, first
    assert clocks.first.get_attribute("data-risk") == "breached"

    # The acme token on globex's dashboard: nothing of globex's is shown.
    page.goto(f"{server.url}/dashboard/globex?as_of={quote(AS_OF)}")
    page.wait_for_selector("body[data-loaded='error']")
    assert "No data for globex" in page.text_content("#error")
    assert page.locator("#chart svg").count() == 0
    assert page.locator("#credits-table tbody tr").count() == 0
    assert "T-2002" not in page.content()

    page.click("#logout")
    assert page.evaluate("sessionStorage.getItem('slaclock.token')") is None
    assert page.is_visible("#login")
    assert page.errors == []


_OBJECTIVE = """
[[plans.advanced.objectives]]
metric = "response"
target = "90%"
credits = [ { below = "90%", credit = "5%" }, { below = "70%", credit = "10%" } ]
[[plans.advanced.objectives]]
metric = "resolution"
priorities = [1]
target = "50%"
minimum = 3
"""


@pytest.fixture(scope="module")
def objective_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("objectives")
    config = tmp / "objectives.toml"
    config.write_text(CONFIG.read_text() + _OBJECTIVE)
    yield from serve(tmp, f"sqlite:///{tmp / 'store.db'}", open_tickets=False, config=config)


def test_objectives_in_the_reports_csv_and_dashboard(page: Any, objective_server: ApiServer):
    """globex (fee 318.00) met 2 of 3 responses in 2025-09: 10 % of the fee on top of its two
    per-breach credits; its resolution P1 objective had too few outcomes to be assessed."""
    server = objective_server
    month = {"month": "2025-09", "as_of": AS_OF, "customer": "globex"}
    (globex,) = server.json("/api/reports/credits", token="globex", **month)["customers"]
    verdicts = [
        (o["metric"], o["attainment"], o["credit"], o["amount"]) for o in globex["objectives"]
    ]
    assert verdicts == [("resolution", None, None, "0.00"), ("response", 0.6667, "10%", "31.80")]
    assert (globex["subtotal"], globex["cap"], globex["total"]) == ("63.60", "79.50", "63.60")
    series = server.json("/api/reports/attainment", token="globex", to="2025-09", as_of=AS_OF)
    (september,) = [m for m in series["months"] if m["month"] == "2025-09"]
    assert september["objectives"] == [
        {"customer_id": "globex", "objectives": globex["objectives"]}
    ]
    csv = server.get("/api/reports/credits", token="globex", format="csv", **month).text
    header, *lines = csv.splitlines()
    assert header.endswith(",priorities,target,met,breached,attainment,credit")
    assert any(
        line.endswith(",globex,objective,,response,,31.80,*,90%,2,1,0.6667,10%") for line in lines
    )

    _open(page, server, "globex", "globex", as_of=AS_OF)
    page.wait_for_selector("body[data-loaded='true']")
    assert page.is_visible("#objectives")
    rows = page.locator("#objectives-table tbody tr")
    assert rows.count() == 2
    response = page.locator("#objectives-table tr[data-metric='response']")
    assert response.locator("td").nth(2).text_content() == "90%"
    assert response.locator("td.attainment").text_content() == "66.7%"
    assert response.locator("td.tier").text_content() == "credit 10%"
    assert response.locator("td.amount").text_content() == "31.80"
    background = response.evaluate("row => getComputedStyle(row).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")  # a missed objective stands out
    resolution = page.locator("#objectives-table tr[data-metric='resolution']")
    assert resolution.locator("td.tier").text_content() == "not assessed"
    assert page.text_content("#credits-subtotal") == "63.60"
    assert page.errors == []


def test_without_objectives_the_dashboard_hides_them(page: Any, server: ApiServer) -> None:
    _open(page, server, "globex", "globex", as_of=AS_OF)
    page.wait_for_selector("body[data-loaded='true']")
    assert not page.is_visible("#objectives")
    (globex,) = server.json(
        "/api/reports/credits", token="globex", month="2025-09", as_of=AS_OF, customer="globex"
    )["customers"]
    assert "objectives" not in globex
