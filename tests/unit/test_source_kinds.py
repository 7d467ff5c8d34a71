"""Per-kind reading: where each kind keeps its ticket, change time and id, what counts as an
acknowledging comment, deltas against snapshots, and rejections that name the path."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from slaclock.consumers.events import Rejected
from slaclock.consumers.source_intake import Payload, Translator
from tests.unit.test_source_samples import lines, sample_config


def sample(kind: str, line: int) -> dict[str, Any]:
    return json.loads(lines(kind)[line - 1])


def translate(kind: str, *bodies: dict[str, Any] | bytes) -> list[dict[str, Any]]:
    translator = Translator(sample_config(kind))
    out: list[dict[str, Any]] = []
    for body in bodies:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        out += translator.translate(Payload(raw, "test"))
    return out


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def test_jira_first_sight_of_a_priority_change_creates_with_the_old_priority() -> None:
    events = translate("jira", sample("jira", 3))
    assert [(e["type"], e.get("priority")) for e in events] == [
        ("ticket.created", 2),
        ("ticket.reprioritised", 1),
    ]


def test_jira_first_sight_of_a_status_change_applies_it_from_running() -> None:
    events = translate("jira", sample("jira", 6))  # Waiting on requester -> Working
    assert types(events) == ["ticket.created"]
    events = translate("jira", sample("jira", 4))  # Triage -> Waiting on requester
    assert types(events) == ["ticket.created", "ticket.paused"]


def test_jira_comments_by_the_reporter_or_internal_do_not_acknowledge() -> None:
    created, comment = sample("jira", 1), sample("jira", 2)
    by_reporter = json.loads(json.dumps(comment))
    by_reporter["comment"]["author"] = created["issue"]["fields"]["reporter"]
    internal = json.loads(json.dumps(comment))
    internal["comment"]["jsdPublic"] = False
    assert types(translate("jira", created, by_reporter, internal)) == ["ticket.created"]
    assert types(translate("jira", created, comment)) == ["ticket.created", "ticket.acknowledged"]


def test_zendesk_comment_by_the_requester_does_not_acknowledge() -> None:
    comment = sample("zendesk", 3)
    comment["event"]["comment"]["author"]["id"] = comment["detail"]["requester_id"]
    assert types(translate("zendesk", sample("zendesk", 1), comment)) == ["ticket.created"]
    private = sample("zendesk", 3)
    private["event"]["comment"]["is_public"] = False
    assert types(translate("zendesk", sample("zendesk", 1), private)) == ["ticket.created"]


def test_glpi_followup_of_the_parent_ticket_acknowledges_unless_private() -> None:
    ticket = sample("glpi", 1)
    followup = {
        "item": {
            "id": 88, "itemtype": "Ticket", "items_id": 3318, "is_private": 0,
            "users_id": 19, "content": "On it", "date_creation": "2025-11-20T10:11:00+01:00",
        },
        "parent_item": ticket["item"],
        "event": "new",
    }  # fmt: skip
    events = translate("glpi", ticket, followup)
    assert [(e["type"], e["occurred_at"]) for e in events] == [
        ("ticket.created", "2025-11-20T10:02:37+01:00"),
        ("ticket.acknowledged", "2025-11-20T10:11:00+01:00"),
    ]
    private = json.loads(json.dumps(followup))
    private["item"]["is_private"] = 1
    by_requester = json.loads(json.dumps(followup))
    by_requester["item"]["users_id"] = 233
    assert types(translate("glpi", ticket, private, by_requester)) == ["ticket.created"]


def test_debezium_deletes_and_tombstones_emit_nothing() -> None:
    deleted = sample("debezium", 7) | {"op": "d", "after": None}
    assert translate("debezium", deleted, b"null", b"") == []


def test_debezium_without_a_full_before_is_a_snapshot_and_schemas_unwrap() -> None:
    first = sample("debezium", 1)
    update = sample("debezium", 4)  # assigned -> on_hold
    update["before"] = None
    wrapped = {"schema": {"type": "struct"}, "payload": update}
    events = translate("debezium", first, wrapped)
    assert types(events) == ["ticket.created", "ticket.reprioritised", "ticket.paused"]
    assert "snapshot" not in events[-1]["source"] and "lsn 3154210376" in events[-1]["source"]


def test_debezium_change_time_falls_back_to_source_ts_ms() -> None:
    config = replace(sample_config("debezium"), updated_column=None)
    body = sample("debezium", 4)
    for image in ("before", "after"):
        del body[image]["updated_at"]
    events = Translator(config).translate(Payload(json.dumps(body).encode(), "t"))
    assert events[-1]["type"] == "ticket.paused"
    assert events[-1]["occurred_at"] == "2025-11-25T14:02:18.663000+00:00"


def _without(data: dict[str, Any], path: str) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[last]
    return data


def _setting(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    [
        ("jira", lambda d: {"timestamp": 1}, "issue: no ticket object"),
        ("jira", lambda d: _without(d, "issue.fields.customfield_10057"),
         "issue.fields.customfield_10057.value: customer missing"),
        ("jira", lambda d: _setting(d, "issue.fields.priority.name", "Urgent"),
         "issue.fields.priority.name: 'Urgent' is not in sources.jsm.priorities"),
        ("jira", lambda d: _setting(d, "issue.fields.customfield_10057.value", "Globex"),
         "issue.fields.customfield_10057.value: 'Globex' is not in sources.jsm.customers"),
        ("jira", lambda d: _without(d, "issue.fields.created"),
         "issue.fields.created: creation time missing"),
        ("zendesk", lambda d: _setting(d, "detail.created_at", "yesterday"),
         "detail.created_at: 'yesterday' is not an RFC 3339 timestamp"),
        ("zendesk", lambda d: _without(d, "detail.id"), "detail.id: ticket id missing"),
        ("zammad", lambda d: _without(d, "ticket.updated_at"),
         "ticket.updated_at: change time missing"),
        ("glpi", lambda d: _setting(d, "item.priority", 9),
         "item.priority: '9' is not in sources.glpi.priorities"),
        ("debezium", lambda d: _without(d, "after.org_code"), "after.org_code: customer missing"),
    ],
)  # fmt: skip
def test_unmappable_payloads_are_rejected_naming_the_path(kind: str, change, reason: str) -> None:
    body = json.dumps(change(sample(kind, 1))).encode()
    with pytest.raises(Rejected) as caught:
        Translator(sample_config(kind)).translate(Payload(body, "t"))
    assert caught.value.reason.startswith(reason), caught.value.reason


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_not_json_is_rejected(body: bytes) -> None:
    with pytest.raises(Rejected) as caught:
        Translator(sample_config("zammad")).translate(Payload(body, "t"))
    assert caught.value.reason.startswith(("not valid JSON", "not a JSON object"))


@pytest.mark.parametrize(
    ("item", "extra"),
    [
        ({"id": 90, "itemtype": "Ticket", "items_id": 3318, "is_private": 0}, {}),  # followup
        ({"id": 91, "tickets_id": 3318, "state": 1, "actiontime": 600}, {}),  # task
        ({"id": 92, "content": "Replaced the sensor"}, {"itemtype": "ITILSolution"}),
    ],
)  # fmt: skip
def test_glpi_followup_solution_or_task_without_parent_item_is_rejected(
    item: dict[str, Any], extra: dict[str, Any]
) -> None:
    body = {"item": {**item, "date_creation": "2025-11-20T10:11:00+01:00"}, "event": "new"}
    with pytest.raises(Rejected) as caught:
        translate("glpi", sample("glpi", 1), body | extra)
    assert caught.value.reason.startswith("parent_item: no ticket object"), caught.value.reason


def _trimmed(body: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """``body`` with its Jira issue cut to ``keep`` fields (as ``comment_created`` sends it)."""
    fields = body["issue"]["fields"]
    return {**body, "issue": {**body["issue"], "fields": {k: fields[k] for k in keep}}}


def test_jira_comment_created_acknowledges_a_known_ticket_without_customer_or_created() -> None:
    created, comment = sample("jira", 1), sample("jira", 2)
    trimmed = _trimmed(comment, ("summary", "priority", "status"))
    trimmed["webhookEvent"] = "comment_created"
    events = translate("jira", created, trimmed)
    assert types(events) == ["ticket.created", "ticket.acknowledged"]
    alone = translate("jira", created, comment)
    assert events[1]["event_id"] == alone[1]["event_id"]  # the comment id is the change id
    with pytest.raises(Rejected) as caught:  # first sight: the customer is needed
        translate("jira", trimmed)
    assert caught.value.reason.startswith("issue.fields.customfield_10057.value: customer missing")


@pytest.mark.parametrize(
    ("kind", "customer", "created"),
    [
        ("jira", "issue.fields.customfield_10057", "issue.fields.created"),
        ("zendesk", "detail.organization_id", "detail.created_at"),
        ("zammad", "ticket.organization", "ticket.created_at"),
        ("glpi", "item.entity", "item.date_creation"),
        ("debezium", "after.org_code", "after.created_at"),
    ],
)  # fmt: skip
def test_customer_and_creation_time_are_needed_at_first_sight_only(
    kind: str, customer: str, created: str
) -> None:
    first, later = sample(kind, 1), sample(kind, 2)
    bare = _without(_without(later, customer), created)
    expected, got = translate(kind, first, later), translate(kind, first, bare)
    assert len(got) > 1
    if kind in ("zammad", "glpi"):  # ids from the body's hash, which differs: all but the ids
        expected, got = ([{**e, "event_id": ""} for e in x] for x in (expected, got))
    assert got == expected
    for missing, what in ((customer, "customer"), (created, "creation time")):
        with pytest.raises(Rejected) as caught:
            translate(kind, _without(first, missing))
        assert f": {what} missing" in caught.value.reason, caught.value.reason
