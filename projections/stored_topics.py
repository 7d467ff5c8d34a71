"""The topics under which the store may hold each stored class, old names included.

``eventsourcing`` stores an event with the ``module:Class`` topic of its class (and a
``Registered`` event with its aggregate's topic). When a class moves, stores keep its old
topic, so the old one is registered here as an alias of the class, on import, before any
store is read (``projections.store`` imports this module). Add a line when a class moves.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic

from slaclock.domain.ticket import Ticket

ALIASES: dict[str, type] = {
    # Until slaclock 0.1.0, the layers were top-level packages (``domain``, not
    # ``slaclock.domain``).
    "domain.ticket:Ticket": Ticket,
    "domain.ticket:Ticket.Registered": Ticket.Registered,
    "domain.ticket:Ticket.FactsRecorded": Ticket.FactsRecorded,
    "domain.ticket:Ticket.AlertsReconciled": Ticket.AlertsReconciled,
}

for _topic, _cls in ALIASES.items():
    register_topic(_topic, _cls)


def topics_of(cls: type) -> tuple[str, ...]:
    """Every topic ``cls`` may be stored under: its own first, then its old ones (for
    queries that select events by topic)."""
    return (get_topic(cls), *(topic for topic, aliased in ALIASES.items() if aliased is cls))
