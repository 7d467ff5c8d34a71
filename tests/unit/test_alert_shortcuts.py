"""The shortcuts the ingest's clock evaluation takes give what the long way gives.

``_run_clock`` skips walking a clock's closed stretches when their open time cannot reach a
threshold, and ``alerts_due`` filters alerts before building them. Checked on the varied
benchmark's calendars (an overnight desk in Sydney, 24x7 in Berlin, both with DST changes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.config import load_policy
from slaclock.domain.alerts import alerts_due, clock_alerts
from slaclock.domain.clocks import _reached, evaluate
from tests.unit.test_order_properties import POLICY, _facts, histories

VARIED = load_policy(Path(__file__).resolve().parents[2] / "bench" / "bench-varied.toml")[0]
CALENDARS = sorted(VARIED.calendars)
# Around the 2025 DST changes of Berlin (March 30), Sydney (April 6) and New York (March 9).
LOW = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
HIGH = int(datetime(2025, 4, 20, tzinfo=UTC).timestamp())


@st.composite
def stretches(draw):
    bounds = sorted(draw(st.lists(st.integers(LOW, HIGH), min_size=0, max_size=8, unique=True)))
    return list(zip(bounds[::2], bounds[1::2], strict=False))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), stretches(), st.integers(0, 200 * 3600))
def test_stretches_reach_a_target_only_when_their_sum_does(name, spans, target) -> None:
    # The shortcut skips the walk when the sum is below the target; with stretches, the
    # walk finds the instant exactly when the sum reaches it, inside one of them.
    calendar = VARIED.calendars[name]
    lengths = [calendar.between_epoch(start, end) for start, end in spans]
    reached = _reached(calendar.add_epoch, target, spans, lengths)
    if sum(lengths) < target:
        assert reached is None
    elif spans:
        assert reached is not None
        assert any(start <= reached <= end for start, end in spans)


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(-2 * 86400, 30 * 86400))
def test_due_alerts_are_the_clock_alerts_before_the_watermark(events, offset) -> None:
    snapshot = evaluate("T", _facts(events), POLICY)
    assert snapshot is not None
    start = datetime.fromisoformat(events[0]["occurred_at"])
    watermark = int((start + timedelta(seconds=offset)).timestamp())
    everything = {a for c in snapshot.clocks.values() for a in clock_alerts(c)}
    assert alerts_due(snapshot, watermark) == {a for a in everything if a.at < watermark}
