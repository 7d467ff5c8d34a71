"""Errors of outside systems that retrying cannot cure (the consumer stops with a message).

Transient trouble (a broker or registry that is down, a rebalance) is retried where it happens;
these are the failures a restart would only repeat.
"""

from __future__ import annotations


class FatalSourceError(Exception):
    """Kafka or the schema registry refused for good: a missing codec, credentials or
    permissions refused, a topic that does not exist, a client setting Kafka rejects.
    The message says what and never carries credentials."""
