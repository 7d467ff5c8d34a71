"""How far the store has got: the engine's watermark and each Kafka partition's position.

The watermark is the time alerts have been raised up to; tickets with an alert falling due
before a new watermark are the time-driven work of the next batch. A partition's position is
the library's tracking record (the next offset to read), stored with each batch; its end
offset, seen by the consumer, is kept beside it so that lag can be read from the store alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from slaclock.projections.event_store import EventStore
from slaclock.projections.meta import END_OFFSET, WATERMARK, read_meta, read_meta_prefix


@dataclass(frozen=True)
class PartitionLag:
    """How far the store is behind one source partition, as of the consumer's last batch."""

    name: str  # the tracking name, e.g. kafka:TOPIC:PARTITION
    end: int  # the partition's end offset then
    stored: int  # the next offset the store will read
    seen_at: int  # when the consumer saw that end offset (epoch seconds)

    @property
    def lag(self) -> int:
        return max(0, self.end - self.stored)


class Positions:
    """The watermark (cached once read) and the source partitions' positions."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._watermark: int | None = None

    def watermark(self) -> int | None:
        """The time the engine has reached (epoch s): alerts due before it were raised."""
        if self._watermark is None:
            with self.store.read() as cursor:
                found = read_meta(cursor, self.store.dialect, [WATERMARK])
            self._watermark = int(found[WATERMARK]) if found else None
        return self._watermark

    def remember(self, watermark: int | None) -> None:
        """Cache the watermark a save is writing (None: read it from the store next time,
        e.g. after a failed save)."""
        self._watermark = watermark

    def tickets_due(self, watermark: int) -> list[str]:
        """Tickets with an alert falling due before ``watermark`` (time-driven events),
        the earliest due first (ties: by id)."""
        # No DISTINCT: it makes SQLite walk the primary key instead of the alert index.
        rows = self.store.query(
            "SELECT ticket_id, next_alert_at FROM {p}sla_clocks WHERE next_alert_at < ?"
            " UNION ALL"
            " SELECT ticket_id, next_alert_at FROM {p}sla_cycles WHERE next_alert_at < ?",
            [watermark, watermark],
        )
        earliest: dict[str, int] = {}
        for row in rows:
            ticket_id, at = row["ticket_id"], row["next_alert_at"]
            if at < earliest.get(ticket_id, at + 1):
                earliest[ticket_id] = at
        return sorted(earliest, key=lambda t: (earliest[t], t))

    def next_alert_at(self, watermark: int) -> int | None:
        """The earliest instant of an alert not due yet at ``watermark`` (None: none is
        pending): when the next time-driven work falls due."""
        rows = self.store.query(
            "SELECT MIN(next_alert_at) AS at FROM {p}sla_clocks WHERE next_alert_at >= ?"
            " UNION ALL"
            " SELECT MIN(next_alert_at) AS at FROM {p}sla_cycles WHERE next_alert_at >= ?",
            [watermark, watermark],
        )
        return min((int(row["at"]) for row in rows if row["at"] is not None), default=None)

    def partition_lags(self) -> list[PartitionLag]:
        """Every source partition a consumer has reported, with its lag (by name)."""
        with self.store.read() as cursor:
            found = read_meta_prefix(cursor, self.store.dialect, END_OFFSET)
        lags = []
        for key, value in found.items():
            name = key.removeprefix(END_OFFSET)
            end, seen_at = (int(part) for part in value.split())
            lags.append(PartitionLag(name, end, self.store.max_tracking_id(name) or 0, seen_at))
        return lags
