"""The API's routes on a real server: the same answers as the command line's JSON, pages,
CSV downloads, the work queue, and 4xx answers that name the bad parameter."""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Iterator

import pytest

from slaclock.projections.queries import Queries
from tests.conftest import AS_OF, normalise
from tests.test_api_harness import QUEUE_BY_DEADLINE, QUEUE_BY_PRIORITY, ApiServer, sqlite_serve

ALL_TICKETS = [
    "T-1001", "T-1002", "T-1003", "T-1004", "T-2001", "T-2002", "T-2003",
    "T-3001", "T-3002", "T-4001", "T-5001", "T-9001", "T-9002", "T-9003",
]  # fmt: skip


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from sqlite_serve(tmp_path_factory)


def test_same_json_as_the_command_line(sqlite_server: ApiServer) -> None:
    cli = sqlite_server.cli
    for ticket in ("T-1004", "T-2003", "T-4001", "T-5001", "T-9001"):
        got = sqlite_server.json(f"/api/tickets/{ticket}", as_of=AS_OF)
        assert got == cli.json("ticket", ticket, "--as-of", AS_OF)
        got = sqlite_server.json(f"/api/tickets/{ticket}/explain", as_of=AS_OF)
        assert got == cli.json("explain", ticket, "--as-of", AS_OF)
    assert sqlite_server.json("/api/tickets/T-2003/explain", as_of=AS_OF)["clocks"]["resolution"][
        "timeline"
    ]
    for month in ("2025-08", "2025-09", "2025-10"):
        for report in ("compliance", "credits"):
            got = sqlite_server.json(f"/api/reports/{report}", month=month, as_of=AS_OF)
            assert got == cli.json("report", report, "--month", month, "--as-of", AS_OF)
        got = sqlite_server.json(
            "/api/reports/credits", month=month, as_of=AS_OF, customer="globex"
        )
        want = cli.json(
            "report", "credits", "--month", month, "--as-of", AS_OF, "--customer", "globex"
        )
        assert got == want
    page = sqlite_server.json("/api/tickets", as_of=AS_OF, limit=500)
    assert page["items"] == cli.json("tickets", "--as-of", AS_OF)
    queue = sqlite_server.json("/api/queue", as_of=AS_OF)
    assert queue == cli.json("queue", "--as-of", AS_OF)


def test_as_of_in_the_past_reevaluates(sqlite_server: ApiServer) -> None:
    early = "2025-09-12T18:00:00+02:00"
    got = sqlite_server.json("/api/tickets/T-2002", as_of=early)
    assert got["priority"] == 3 and got["clocks"]["response"]["status"] == "running"
    assert got == sqlite_server.cli.json("ticket", "T-2002", "--as-of", early)
    missing = sqlite_server.get("/api/tickets/T-9001", as_of=early)
    assert missing.status_code == 404  # not created yet then
    page = sqlite_server.json("/api/tickets", as_of=early, customer="globex")
    assert [t["ticket_id"] for t in page["items"]] == ["T-2001", "T-2002"]
    queue = sqlite_server.json("/api/queue", as_of=early, order="deadline")
    assert [i["ticket_id"] for i in queue["items"]] == ["T-2002", "T-5001"]


def test_pages_follow_next_links(sqlite_server: ApiServer) -> None:
    seen, params = [], {"as_of": AS_OF, "limit": 4}
    page = sqlite_server.json("/api/tickets", **params)
    while True:
        assert page["total"] == len(ALL_TICKETS) and page["limit"] == 4
        seen += [t["ticket_id"] for t in page["items"]]
        if page["next"] is None:
            break
        response = sqlite_server.client.get(
            page["next"], headers={"Authorization": f"Bearer {sqlite_server.tokens['admin']}"}
        )
        assert response.status_code == 200
        page = response.json()
    assert seen == ALL_TICKETS
    last = sqlite_server.json("/api/tickets", as_of=AS_OF, after="T-9003")
    assert last["items"] == [] and last["next"] is None


def test_work_queue_orders(sqlite_server: ApiServer) -> None:
    by_priority = sqlite_server.json("/api/queue", as_of=AS_OF)
    assert [i["ticket_id"] for i in by_priority["items"]] == QUEUE_BY_PRIORITY
    assert [i["has_contract"] for i in by_priority["items"]] == [True] * 4 + [False]
    by_deadline = sqlite_server.json("/api/queue", as_of=AS_OF, order="deadline")
    assert [i["ticket_id"] for i in by_deadline["items"]] == QUEUE_BY_DEADLINE
    first = by_deadline["items"][0]
    assert first["risk"] == "breached" and first["clocks"]["response"]["status"] == "breached"
    t9001 = by_deadline["items"][1]
    assert t9001["clocks"]["response"]["remaining_seconds"] == 900
    assert t9001["clocks"]["response"]["risk"] == "at_risk"
    assert t9001["clocks"]["resolution"]["risk"] == "ok"
    assert normalise(t9001["next_deadline"]) == normalise("2025-10-06T12:15:00+02:00")
    page = sqlite_server.json("/api/queue", as_of=AS_OF, limit=2, offset=2)
    assert page["total"] == 5
    assert [(i["position"], i["ticket_id"]) for i in page["items"]] == [
        (3, "T-9001"),
        (4, "T-9002"),
    ]


def test_attainment_series(sqlite_server: ApiServer) -> None:
    got = sqlite_server.json("/api/reports/attainment", customer="globex", as_of=AS_OF)
    assert (got["from"], got["to"]) == ("2025-05", "2025-10")
    september = next(m for m in got["months"] if m["month"] == "2025-09")
    assert september["metrics"]["response"] == {"met": 2, "breached": 1, "attainment": 0.6667}
    p1 = [r for r in september["rows"] if r["metric"] == "response" and r["priority"] == 1]
    assert p1 == [
        {
            "customer_id": "globex",
            "metric": "response",
            "priority": 1,
            "met": 1,
            "breached": 1,
            "attainment": 0.5,
        }
    ]
    window = sqlite_server.json(
        "/api/reports/attainment", **{"from": "2025-08", "to": "2025-09"}, as_of=AS_OF
    )
    assert [m["month"] for m in window["months"]] == ["2025-08", "2025-09"]


def test_csv_downloads_match_the_json(sqlite_server: ApiServer) -> None:
    data = sqlite_server.json("/api/reports/compliance", month="2025-09", as_of=AS_OF)
    response = sqlite_server.get(
        "/api/reports/compliance", month="2025-09", as_of=AS_OF, format="csv"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="compliance_2025-09.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["customer_id"], r["metric"], r["priority"], r["attainment"]) for r in rows] == [
        (r["customer_id"], r["metric"], str(r["priority"]), str(r["attainment"]))
        for r in data["rows"]
    ]
    response = sqlite_server.get(
        "/api/reports/credits", month="2025-09", as_of=AS_OF, format="csv", customer="globex"
    )
    assert 'filename="credits_2025-09_globex.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["line"], r["ticket_id"], r["metric"], r["amount"]) for r in rows] == [
        ("entry", "T-2002", "response", "15.90"),
        ("entry", "T-2002", "resolution", "15.90"),
        ("subtotal", "", "", "31.80"),
        ("cap", "", "", "79.50"),
        ("total", "", "", "31.80"),
    ]
    assert {r["currency"] for r in rows} == {"EUR"}


def test_known_at(sqlite_server: ApiServer) -> None:
    cli, later, before = sqlite_server.cli, "2099-01-01T00:00:00Z", "1999-01-01T00:00:00Z"
    if "known_at" not in inspect.signature(Queries).parameters:  # an engine without it
        response = sqlite_server.get("/api/tickets/T-2003", known_at=later)
        assert response.status_code == 501
        assert response.json()["detail"].startswith("known_at: not supported")
        return
    for path, argv in (
        ("/api/tickets/T-2003", ["ticket", "T-2003"]),
        ("/api/tickets/T-2003/explain", ["explain", "T-2003"]),
    ):
        got = sqlite_server.json(path, as_of=AS_OF, known_at=later)
        assert got == cli.json(*argv, "--as-of", AS_OF, "--known-at", later)
        assert sqlite_server.get(path, as_of=AS_OF, known_at=before).status_code == 404
    for report in ("compliance", "credits"):
        got = sqlite_server.json(
            f"/api/reports/{report}", month="2025-09", as_of=AS_OF, known_at=before
        )
        want = cli.json(
            "report", report, "--month", "2025-09", "--as-of", AS_OF, "--known-at", before
        )
        assert got == want
        assert got.get("rows", got.get("customers")) == []
    page = sqlite_server.json("/api/tickets", as_of=AS_OF, known_at=before)
    assert page["items"] == [] and page["total"] == 14  # created by as_of, none known then
    queue = sqlite_server.json("/api/queue", as_of=AS_OF, known_at=before)
    assert queue["items"] == []
    bad = sqlite_server.get("/api/tickets/T-2003", known_at="2025-10-06")
    assert bad.status_code == 422 and bad.json()["detail"].startswith("known_at:")


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/tickets", {"as_of": "yesterday"}, "as_of"),
        ("/api/tickets", {"as_of": "2025-10-06T12:00:00"}, "as_of"),  # no offset
        ("/api/tickets", {"as_of": "2025-10-06"}, "as_of"),
        ("/api/tickets", {"as_of": "2025-02-30T12:00:00Z"}, "as_of"),
        ("/api/tickets", {"as_of": "0001-01-01T00:00:00+14:00"}, "as_of"),
        ("/api/tickets", {"as_of": "9999-12-31T23:59:59-12:00"}, "as_of"),
        ("/api/tickets", {"limit": "0"}, "limit"),
        ("/api/tickets", {"limit": "many"}, "limit"),
        ("/api/tickets", {"limit": "501"}, "limit"),
        ("/api/tickets", {"after": "x" * 129}, "after"),
        ("/api/tickets", {"customer": "\x01"}, "customer"),
        ("/api/tickets/" + "T" * 129, {}, "ticket_id"),
        ("/api/tickets/T%01", {}, "ticket_id"),
        ("/api/tickets/T-1001", {"as_of": "2025-13-01T00:00:00Z"}, "as_of"),
        ("/api/tickets/T-1001/explain", {"known_at": "now"}, "known_at"),
        ("/api/tickets/" + "T" * 129 + "/explain", {}, "ticket_id"),
        ("/api/queue", {"order": "random"}, "order"),
        ("/api/queue", {"offset": "-1"}, "offset"),
        ("/api/reports/compliance", {}, "month"),
        ("/api/reports/compliance", {"month": "2025-13"}, "month"),
        ("/api/reports/compliance", {"month": "25-09"}, "month"),
        ("/api/reports/compliance", {"month": "2025-9"}, "month"),
        ("/api/reports/compliance", {"month": "0000-01"}, "month"),
        ("/api/reports/credits", {"month": "2025-09", "format": "xml"}, "format"),
        ("/api/reports/credits", {"month": "september"}, "month"),
        ("/api/reports/attainment", {"from": "2025-10", "to": "2025-01"}, "from"),
        ("/api/reports/attainment", {"from": "2020-01", "to": "2025-01"}, "from"),
        ("/api/reports/attainment", {"to": "2025-1"}, "to"),
    ],
)
def test_bad_inputs_answer_422_naming_the_parameter(
    sqlite_server: ApiServer, path: str, params: dict[str, str], parameter: str
) -> None:
    response = sqlite_server.get(path, **params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{parameter}:"), detail


def test_unknown_things_answer_404_and_other_methods_405(sqlite_server: ApiServer) -> None:
    missing = sqlite_server.get("/api/tickets/T-0000", as_of=AS_OF)
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"ticket 'T-0000': not found as of {AS_OF}"}
    assert sqlite_server.get("/api/nothing").status_code == 404
    post = sqlite_server.client.post(
        "/api/tickets", headers={"Authorization": f"Bearer {sqlite_server.tokens['admin']}"}
    )
    assert post.status_code == 405


def test_openapi_document(sqlite_server: ApiServer) -> None:
    doc = sqlite_server.json("/openapi.json", token=None)
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    assert {
        "/api/tickets",
        "/api/tickets/{ticket_id}",
        "/api/tickets/{ticket_id}/explain",
        "/api/queue",
        "/api/reports/compliance",
        "/api/reports/credits",
        "/api/reports/attainment",
        "/metrics",
        "/healthz",
        "/readyz",
    } <= paths
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    params = {p["name"] for p in doc["paths"]["/api/tickets"]["get"]["parameters"]}
    assert {"as_of", "known_at", "customer", "limit", "after"} <= params
