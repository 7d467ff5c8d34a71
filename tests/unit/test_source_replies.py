"""Section 5 of the service-levels contract: ``replies = true`` and ``group`` (+ ``groups``)
on every source kind, on the webhook bodies of ``tests/fixtures/sources/hooks`` (each
vendor's documented shape): a public comment by the requester, by an agent, an internal
note, a group change; rule 6's order, rule 8's ids, rejections naming the key."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from slaclock.config import parse_policy
from slaclock.consumers.events import Rejected
from slaclock.consumers.source_config import CommentColumns, SourceConfig
from slaclock.consumers.source_intake import Payload, Translator
from slaclock.consumers.source_rules import event_id
from tests.unit.test_source_samples import lines as sample_lines
from tests.unit.test_source_samples import sample_config

HOOKS = Path(__file__).parents[1] / "fixtures" / "sources" / "hooks"
NAMES = {"jira": "jsd", "zendesk": "zd", "zammad": "zm", "glpi": "gl"}
REPLY_TYPES = {"ticket.customer_replied", "ticket.agent_replied", "ticket.assigned"}


def hooks_config(kind: str, **keys: Any) -> SourceConfig:
    text = (HOOKS / "slaclock.toml").read_text() + "\n" + (HOOKS / kind / "source.toml").read_text()
    return replace(parse_policy(text, f"{kind}.toml").sources[NAMES[kind]], **keys)


def body(kind: str, line: int) -> dict[str, Any]:
    return json.loads((HOOKS / kind / "payloads.jsonl").read_bytes().splitlines()[line - 1])


def translate(config: SourceConfig, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    translator = Translator(config)
    out: list[dict[str, Any]] = []
    for item in bodies:
        out += translator.translate(Payload(json.dumps(item).encode(), "test"))
    return out


def brief(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["occurred_at"]) for e in events]


def copy(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


# --- without the keys: what is emitted today --------------------------------------------


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_without_the_keys_no_reply_or_assignment_is_emitted(kind: str) -> None:
    translator = Translator(hooks_config(kind))
    for line in (HOOKS / kind / "payloads.jsonl").read_bytes().splitlines():
        try:
            events = translator.translate(Payload(line, "test"))
        except Rejected:
            continue
        assert not {e["type"] for e in events} & REPLY_TYPES
        assert all("group" not in e for e in events)


# --- Jira Service Management -------------------------------------------------------------


def test_jira_agent_comment_acknowledges_then_replies_at_the_comments_time_and_id() -> None:
    events = translate(hooks_config("jira", replies=True), body("jira", 1), body("jira", 2))
    assert brief(events) == [
        ("ticket.created", "2025-11-03T09:20:00.120000+01:00"),
        ("ticket.acknowledged", "2025-11-03T08:50:00.560000+00:00"),  # the webhook's timestamp
        ("ticket.agent_replied", "2025-11-03T09:50:00.412000+01:00"),  # comment.created
    ]
    assert events[2]["event_id"] == event_id("jsd", "SUP-481", "11201", "ticket.agent_replied")
    later = translate(hooks_config("jira", replies=True), body("jira", 1), body("jira", 6))
    assert [e["type"] for e in later] == [
        "ticket.created",
        "ticket.acknowledged",
        "ticket.agent_replied",
    ]


def test_jira_requester_comment_is_a_customer_reply_and_internal_comments_are_nothing() -> None:
    created, comment = body("jira", 1), body("jira", 2)
    by_reporter = copy(comment)
    by_reporter["comment"]["author"] = created["issue"]["fields"]["reporter"]
    internal = copy(comment)
    internal["comment"]["jsdPublic"] = False
    events = translate(hooks_config("jira", replies=True), created, by_reporter, internal)
    assert [e["type"] for e in events] == ["ticket.created", "ticket.customer_replied"]


def test_jira_comment_created_without_reporter_takes_a_customer_account_as_the_requester() -> None:
    created, comment = body("jira", 1), body("jira", 2)
    fields = comment["issue"]["fields"]
    trimmed = {**comment, "webhookEvent": "comment_created"}
    trimmed["issue"] = {**comment["issue"], "fields": {k: fields[k] for k in ("summary", "status")}}
    customer = copy(trimmed)
    customer["comment"]["author"] = created["issue"]["fields"]["reporter"]
    assert customer["comment"]["author"]["accountType"] == "customer"
    config = hooks_config("jira", replies=True)
    assert [e["type"] for e in translate(config, created, customer)] == [
        "ticket.created",
        "ticket.customer_replied",
    ]
    assert [e["type"] for e in translate(config, created, trimmed)] == [
        "ticket.created",
        "ticket.acknowledged",
        "ticket.agent_replied",
    ]
    deleted = {**trimmed, "webhookEvent": "comment_deleted"}
    assert [e["type"] for e in translate(config, created, deleted)][2:] == []


def _jira_team(data: dict[str, Any], team: str | None) -> dict[str, Any]:
    data = copy(data)
    data["issue"]["fields"]["customfield_10070"] = None if team is None else {"value": team}
    return data


def test_jira_group_from_a_custom_field_and_its_changelog_item() -> None:
    config = hooks_config(
        "jira",
        group="fields.customfield_10070.value",
        groups={"Service Desk": "L1", "Network": "L2"},
    )
    created = _jira_team(body("jira", 1), "Service Desk")
    moved = _jira_team(body("jira", 3), "Network")  # the priority change, and the team moved
    moved["changelog"]["items"].append(
        {"field": "Team", "fieldtype": "custom", "fieldId": "customfield_10070",
         "from": "10301", "fromString": "Service Desk", "to": "10302", "toString": "Network"}
    )  # fmt: skip
    events = translate(config, created, moved, _jira_team(body("jira", 4), "Network"))
    assert [(e["type"], e.get("group")) for e in events] == [
        ("ticket.created", "L1"),
        ("ticket.reprioritised", None),
        ("ticket.assigned", "L2"),  # right after the reprioritisation (rule 6)
        ("ticket.paused", None),
    ]
    assert events[2]["occurred_at"] == events[1]["occurred_at"]
    assert events[2]["event_id"] == event_id("jsd", "SUP-481", "31877", "ticket.assigned")


# --- Zendesk -------------------------------------------------------------------------------


def test_zendesk_description_and_internal_note_are_nothing_replies_by_author() -> None:
    config = hooks_config("zendesk", replies=True)
    events = translate(config, *(body("zendesk", n) for n in (1, 2, 3, 4, 9)))
    assert brief(events) == [
        ("ticket.created", "2025-11-10T08:20:00+00:00"),
        ("ticket.acknowledged", "2025-11-10T08:50:00+00:00"),
        ("ticket.agent_replied", "2025-11-10T08:50:00+00:00"),
        ("ticket.agent_replied", "2025-11-11T10:00:00+00:00"),
    ]
    assert events[2]["event_id"] == event_id("zd", "48213", "50311877402", "ticket.agent_replied")
    answer = body("zendesk", 9)  # the requester writes again the next morning
    answer["event"]["comment"] |= {"id": "50311902555", "author": {"id": "411122233344"}}
    answer["id"], answer["time"] = "0c1d2e3f-0000-4000-8000-000000000001", "2025-11-11T10:30:00Z"
    replies = translate(config, body("zendesk", 1), answer)
    assert brief(replies)[1:] == [("ticket.customer_replied", "2025-11-11T10:30:00+00:00")]


def _zendesk_group_event(previous: str, current: str) -> dict[str, Any]:
    event = body("zendesk", 6)
    event["type"] = "zen:event-type:ticket.group_assignment_changed"
    event["id"] = "6d1f0c2a-1111-4b7e-9c3d-5a8e2f4b6c10"
    event["event"] = {"current": {"id": current}, "previous": {"id": previous}}
    event["detail"] |= {"group_id": current, "priority": "NORMAL"}
    return event


def test_zendesk_group_assignment_changed_emits_the_mapped_group() -> None:
    config = hooks_config(
        "zendesk", group="group_id", groups={"360009988776": "L1", "360009988777": "L2"}
    )
    events = translate(
        config, body("zendesk", 1), _zendesk_group_event("360009988776", "360009988777")
    )
    assert [(e["type"], e.get("group")) for e in events] == [
        ("ticket.created", "L1"),
        ("ticket.assigned", "L2"),
    ]
    unmapped = _zendesk_group_event("360009988776", "360000000001")
    with pytest.raises(Rejected) as caught:
        translate(config, body("zendesk", 1), unmapped)
    assert caught.value.reason == "detail.group_id: '360000000001' is not in sources.zd.groups"
    unassigned = _zendesk_group_event("360009988776", None)  # type: ignore[arg-type]
    assert [e["type"] for e in translate(config, body("zendesk", 1), unassigned)] == [
        "ticket.created"
    ]


def test_without_a_map_the_value_is_the_group() -> None:
    config = hooks_config("zendesk", group="group_id")
    events = translate(config, body("zendesk", 1), _zendesk_group_event("360009988776", "77"))
    assert [e.get("group") for e in events] == ["360009988776", "77"]


# --- Zammad --------------------------------------------------------------------------------


def test_zammad_opening_article_and_internal_note_are_nothing_replies_by_sender() -> None:
    config = hooks_config("zammad", replies=True)
    events = translate(config, *(body("zammad", n) for n in (1, 2, 3, 4, 5, 6)))
    assert brief(events) == [
        ("ticket.created", "2025-11-17T08:20:00.120000+00:00"),  # article 61801 opened it
        ("ticket.acknowledged", "2025-11-17T08:50:00.560000+00:00"),
        ("ticket.agent_replied", "2025-11-17T08:50:00.560000+00:00"),
        ("ticket.reprioritised", "2025-11-17T09:10:00.705000+00:00"),
        ("ticket.paused", "2025-11-17T10:10:00.310000+00:00"),
        ("ticket.customer_replied", "2025-11-18T09:40:00.050000+00:00"),  # before resumed
        ("ticket.resumed", "2025-11-18T09:40:00.050000+00:00"),
    ]
    assert events[5]["event_id"] == event_id("zm", "91007", "61874", "ticket.customer_replied")
    system = body("zammad", 7)
    system["article"] |= {"sender": "System", "id": 61881}
    after_system = [e["type"] for e in translate(config, body("zammad", 1), system)]
    assert after_system == ["ticket.created", "ticket.reprioritised"]  # no reply


def test_zammad_group_change_in_a_snapshot() -> None:
    config = hooks_config(
        "zammad", group="group.name", groups={"1st Level": "L1", "2nd Level": "L2"}
    )
    first, later = body("zammad", 1), body("zammad", 4)
    first["ticket"]["group"]["name"] = "1st Level"
    events = translate(config, first, later, body("zammad", 5))
    assert [(e["type"], e.get("group")) for e in events] == [
        ("ticket.created", "L1"),
        ("ticket.reprioritised", None),
        ("ticket.assigned", "L2"),
        ("ticket.paused", None),
    ]


# --- GLPI ----------------------------------------------------------------------------------


def test_glpi_private_followup_is_nothing_public_ones_reply_by_author() -> None:
    config = hooks_config("glpi", replies=True)
    by_requester = body("glpi", 7)
    by_requester["item"] |= {
        "id": 9390,
        "users_id": 412,
        "date_creation": "2025-11-25T11:20:00+01:00",
    }
    events = translate(config, *(body("glpi", n) for n in (1, 2, 3, 4)), by_requester)
    assert brief(events) == [
        ("ticket.created", "2025-11-24T09:20:00+01:00"),
        ("ticket.acknowledged", "2025-11-24T09:50:00+01:00"),
        ("ticket.agent_replied", "2025-11-24T09:50:00+01:00"),
        ("ticket.reprioritised", "2025-11-24T10:10:00+01:00"),
        ("ticket.customer_replied", "2025-11-25T11:20:00+01:00"),
    ]
    assert events[2]["event_id"] == event_id("gl", "5120", "9304", "ticket.agent_replied")


def test_glpi_group_from_the_team_member_with_type_group_and_role_assigned() -> None:
    config = hooks_config("glpi", group="team.type=Group,role=assigned.name")
    first, later = body("glpi", 1), body("glpi", 4)
    first["item"]["team"].append({"id": 3, "name": "L1", "type": "Group", "role": "assigned"})
    later["item"]["team"].append({"id": 8, "name": "L2", "type": "Group", "role": "assigned"})
    events = translate(config, first, later)
    assert [(e["type"], e.get("group")) for e in events] == [
        ("ticket.created", "L1"),
        ("ticket.reprioritised", None),
        ("ticket.assigned", "L2"),
    ]


# --- Debezium (group; its replies come from a comments table: test_source_debezium_replies) --


def test_debezium_group_column_from_the_before_image_and_from_a_snapshot() -> None:
    config = replace(sample_config("debezium"), group="assignee")
    first, assign = (json.loads(sample_lines("debezium")[n]) for n in (0, 1))
    events = translate(config, first, assign)
    assert [(e["type"], e.get("group")) for e in events] == [
        ("ticket.created", None),  # assignee null: no group
        ("ticket.assigned", "r.okafor"),
        ("ticket.acknowledged", None),
    ]
    assign["before"] = None  # no full before image: compared with the kept snapshot
    assert [e.get("group") for e in translate(config, first, assign)] == [None, "r.okafor", None]


# --- the configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('replies = "yes"', "sources.jsm.replies: expected true or false"),
        ('groups = { "17" = "L1" }', "sources.jsm.groups: needs 'group'"),
        (
            'group = "fields.team"\ngroups = { "17" = "" }',
            "sources.jsm.groups.17: expected a group",
        ),
        ('group = "fields team"', "sources.jsm.group: 'fields team' is not a dotted path"),
    ],
)
def test_configuration_errors_name_the_key(keys: str, message: str) -> None:
    from tests.unit.test_source_config import error

    assert message in error(keys + "\n")


def test_replies_and_group_are_read_from_the_table() -> None:
    from tests.unit.test_source_config import BASE, JIRA

    text = BASE + JIRA + 'replies = true\ngroup = "fields.customfield_10070.value"\n'
    source = parse_policy(text + 'groups = { "Desk" = "L1" }\n', "cfg.toml").sources["jsm"]
    assert (source.replies, source.group, source.groups) == (
        True,
        "fields.customfield_10070.value",
        {"Desk": "L1"},
    )


# --- Debezium: a captured comments table in the same change stream -------------------------

DB_COMMENTS = CommentColumns(
    table="ticket_comments",
    ticket="ticket_id",
    author="author_email",
    internal="internal",
    created="created_at",
    id="id",
)


def db_config(**keys: Any) -> SourceConfig:
    return replace(sample_config("debezium"), **keys)


def comment_row(number: int, author: str, at: str, *, internal: bool = False) -> dict[str, Any]:
    """A Debezium change event of ``public.ticket_comments`` (JSON converter, no schemas)."""
    row = {"id": number, "ticket_id": 50917, "author_email": author, "internal": internal,
           "body": "...", "created_at": at}  # fmt: skip
    source = {"version": "2.7.3.Final", "connector": "postgresql", "name": "helpdesk",
              "ts_ms": 1764076000000, "snapshot": "false", "db": "helpdesk",
              "schema": "public", "table": "ticket_comments", "txId": 918350 + number,
              "lsn": 3154090000 + number}  # fmt: skip
    return {"before": None, "after": row, "source": source, "op": "c", "ts_ms": 1764076000100}


def test_debezium_comment_rows_reply_by_author_against_the_ticket_rows_requester() -> None:
    config = db_config(replies=True, requester="requester_email", comments=DB_COMMENTS)
    ticket = json.loads(sample_lines("debezium")[0])  # requester m.bolton@initech.example
    rows = [
        comment_row(1, "r.okafor@nwms.example", "2025-11-25T13:08:00.5Z", internal=True),
        comment_row(2, "r.okafor@nwms.example", "2025-11-25T13:10:00Z"),
        comment_row(3, "m.bolton@initech.example", "2025-11-25T13:30:00Z"),
    ]
    events = translate(config, ticket, *rows, rows[2])  # the last one redelivered
    assert brief(events) == [
        ("ticket.created", "2025-11-25T13:04:55.418062+00:00"),
        ("ticket.acknowledged", "2025-11-25T13:10:00+00:00"),
        ("ticket.agent_replied", "2025-11-25T13:10:00+00:00"),
        ("ticket.customer_replied", "2025-11-25T13:30:00+00:00"),
        ("ticket.customer_replied", "2025-11-25T13:30:00+00:00"),  # same id: a duplicate
    ]
    assert events[2]["event_id"] == event_id("db", "HD-50917", "2", "ticket.agent_replied")
    assert events[3]["event_id"] == events[4]["event_id"]
    without_replies = db_config(requester="requester_email", comments=DB_COMMENTS)
    acknowledged = translate(without_replies, ticket, *rows)  # rule 3 alone
    assert [e["type"] for e in acknowledged] == ["ticket.created", "ticket.acknowledged"]


def test_debezium_comment_of_a_ticket_not_seen_yet_is_rejected_naming_the_column() -> None:
    config = db_config(replies=True, requester="requester_email", comments=DB_COMMENTS)
    with pytest.raises(Rejected) as caught:
        translate(config, comment_row(2, "r.okafor@nwms.example", "2025-11-25T13:10:00Z"))
    assert caught.value.reason.startswith("after.ticket_id: ticket 'HD-50917' not seen yet")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("replies = true", "sources.db.comments: required with replies = true"),
        ('comments = { table = "c", ticket = "t", author = "a" }',
         "sources.db.requester: required"),
        ('comments = { table = "c", ticket = "t" }', "sources.db.comments.author: required key"),
        ('comments = { table = "c", ticket = "t", author = "a", color = "x" }',
         "sources.db.comments.color: unknown key"),
    ],
)  # fmt: skip
def test_debezium_comment_configuration_errors_name_the_key(table: str, message: str) -> None:
    from slaclock.config import ConfigError
    from tests.unit.test_source_samples import config_text

    with pytest.raises(ConfigError) as caught:
        parse_policy(config_text("debezium") + table + "\n", "cfg.toml")
    assert message in str(caught.value)


# --- what ingest makes of them --------------------------------------------------------------

GROUPS = {
    "jira": "fields.customfield_10070.value",
    "zendesk": "group_id",
    "zammad": "group.name",
    "glpi": "team.type=Group,role=assigned.name",
}


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_every_event_translated_with_replies_and_groups_is_accepted_by_validation(
    kind: str,
) -> None:
    from slaclock.consumers.source_intake import translate_batch

    text = (HOOKS / "slaclock.toml").read_text() + "\n" + (HOOKS / kind / "source.toml").read_text()
    policy = parse_policy(text, f"{kind}.toml").policy
    config = hooks_config(kind, replies=True, group=GROUPS[kind])
    payloads = [
        Payload(line, f"{kind}:{n}")
        for n, line in enumerate((HOOKS / kind / "payloads.jsonl").read_bytes().splitlines(), 1)
    ]
    batch = translate_batch(Translator(config), payloads, policy)
    reasons = [reason for _, _, reason, *_ in batch.decoded.rejected]
    assert reasons == [batch.reasons[len(payloads) - 1]]  # the unmappable last line alone
    facts = [fact for *_, fact in batch.decoded.facts]
    assert len(facts) == batch.emitted
    assert {"ticket.agent_replied", "ticket.acknowledged"} <= {fact.type for fact in facts}
    created = next(fact for fact in facts if fact.type == "ticket.created")
    assert created.group == CREATED_GROUP[kind]


CREATED_GROUP = {"jira": None, "zendesk": "360009988776", "zammad": "2nd Level", "glpi": None}


def test_assignments_and_customer_replies_are_accepted_by_validation() -> None:
    from slaclock.consumers.source_intake import translate_batch

    text = (
        (HOOKS / "slaclock.toml").read_text()
        + "\n"
        + (HOOKS / "zendesk" / "source.toml").read_text()
    )
    policy = parse_policy(text, "zendesk.toml").policy
    config = hooks_config(
        "zendesk", replies=True, group="group_id", groups={"360009988776": "L1", "7": "L2"}
    )
    answer = body("zendesk", 9)
    answer["event"]["comment"] |= {"id": "50311902555", "author": {"id": "411122233344"}}
    answer["id"] = "0c1d2e3f-0000-4000-8000-000000000001"
    bodies = [body("zendesk", 1), _zendesk_group_event("360009988776", "7"), answer]
    payloads = [Payload(json.dumps(item).encode(), "t") for item in bodies]
    batch = translate_batch(Translator(config), payloads, policy)
    assert batch.decoded.rejected == []
    assert [(f.type, f.group) for *_, f in batch.decoded.facts] == [
        ("ticket.created", "L1"),
        ("ticket.assigned", "L2"),
        ("ticket.customer_replied", None),
    ]


# --- rule 6's order, late snapshots, redelivery ---------------------------------------------


def _zammad_rules(**keys: Any) -> SourceConfig:
    from tests.unit.test_source_rules import zammad

    return replace(zammad(), replies=True, group="group.name", **keys)


def _snapshot(state: str, at: str, priority: str, group: str, article: dict[str, Any]) -> dict:
    from tests.unit.test_source_rules import snapshot

    data = json.loads(snapshot(state, at, priority, article=article))
    data["ticket"] |= {"group": {"name": group}, "article_ids": [1]}
    return data


def _article(number: int, sender: str, at: str) -> dict[str, Any]:
    author = 58 if sender == "Customer" else 19
    return {"id": number, "internal": False, "sender": sender, "created_by_id": author,
            "created_at": at}  # fmt: skip


def test_one_change_emits_in_rule_6_order() -> None:
    config = _zammad_rules()
    events = translate(
        config,
        _snapshot("closed", "2025-11-03T09:00:00Z", "2 normal", "A", {}),
        _snapshot("waiting", "2025-11-03T10:00:00Z", "3 high", "B",
                  _article(2, "Agent", "2025-11-03T10:00:00Z")),
    )  # fmt: skip
    assert [e["type"] for e in events] == [
        "ticket.created",
        "ticket.resolved",
        "ticket.reopened",
        "ticket.reprioritised",
        "ticket.assigned",
        "ticket.acknowledged",
        "ticket.agent_replied",
        "ticket.paused",
    ]
    working = translate(
        config,
        _snapshot("new", "2025-11-03T09:00:00Z", "2 normal", "A", {}),
        _snapshot("working", "2025-11-03T10:00:00Z", "2 normal", "A",
                  _article(3, "Customer", "2025-11-03T10:00:00Z")),
    )  # fmt: skip
    assert [e["type"] for e in working][1:] == [
        "ticket.intervention_started",
        "ticket.customer_replied",
    ]


def test_a_late_snapshot_reveals_the_assignment_and_emits_its_reply_once() -> None:
    config = _zammad_rules()
    first = _snapshot("new", "2025-11-03T09:00:00Z", "2 normal", "A", {})
    late = _snapshot("new", "2025-11-03T10:00:00Z", "2 normal", "B",
                     _article(4, "Agent", "2025-11-03T10:00:00Z"))  # fmt: skip
    last = _snapshot("new", "2025-11-03T11:00:00Z", "2 normal", "B", {})
    in_order = translate(config, first, late, last)
    shuffled = translate(config, first, last, late)
    assert [e["type"] for e in in_order] == [
        "ticket.created",
        "ticket.assigned",
        "ticket.acknowledged",
        "ticket.agent_replied",
    ]
    # out of order: the last snapshot shows B first (an assignment at 11:00), the late one
    # then adds its own at 10:00 and its reply; nothing is withdrawn, the engine orders by time
    assert [(e["type"], e["occurred_at"][11:16]) for e in shuffled] == [
        ("ticket.created", "08:00"),
        ("ticket.assigned", "11:00"),
        ("ticket.assigned", "10:00"),
        ("ticket.acknowledged", "10:00"),
        ("ticket.agent_replied", "10:00"),
    ]
    assert sum(e["type"] == "ticket.agent_replied" for e in shuffled) == 1


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_a_redelivered_lifecycle_adds_no_new_event_id(kind: str) -> None:
    translator = Translator(hooks_config(kind, replies=True, group=GROUPS[kind]))
    seen: list[set[str]] = []
    for _ in range(2):
        ids = set()
        for line in (HOOKS / kind / "payloads.jsonl").read_bytes().splitlines():
            with contextlib.suppress(Rejected):
                ids |= {e["event_id"] for e in translator.translate(Payload(line, "t"))}
        seen.append(ids)
    assert seen[1] <= seen[0]
