"""A ticket's aggregate id, computed the quick way for bulk reads, is the one it always had."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slaclock.domain.ticket import ticket_uuid, ticket_uuid_hex


@given(st.text())
def test_quick_hex_key_equals_the_uuid5(ticket_id: str) -> None:
    assert ticket_uuid_hex(ticket_id) == ticket_uuid(ticket_id).hex


def test_a_known_ticket_keeps_its_stored_id() -> None:
    assert ticket_uuid_hex("T-1001") == ticket_uuid("T-1001").hex
    assert len(ticket_uuid_hex("T-1001")) == 32
