"""The process exit codes of every command, in one place (documented in the README).

0, 1 and 2 keep the meanings the command-line contract gives them; the codes above 2 tell an
operator's supervisor which failures retrying cannot cure and which a later retry may.
"""

from __future__ import annotations

OK = 0
"""Done."""
FAILED = 1
"""The command ran but did not get what it was for: what was asked for does not exist,
``--strict`` and something was rejected, ``replay --verify`` found a difference, ``publish``
skipped or failed events, or a second signal forced ``consume`` to stop."""
NOT_FOUND = FAILED
"""What was asked for (a ticket, a calendar, a token, a month's statement) does not exist."""
USAGE = 2
"""Usage or configuration error: fix the command line or the configuration file (also: a
store written by a newer slaclock, which this one refuses to open)."""
STORE_UNAVAILABLE = 3
"""The store could not be opened, or was lost (connection, file lock) during a one-shot
command: nothing half-done was kept; run the command again once the database is back."""
SOURCE_FATAL = 4
"""``consume``: Kafka or the schema registry refused in a way retrying cannot cure (a missing
compression codec, authentication or authorisation, a topic that does not exist, a bad client
setting); the stored offsets are intact, fix the cause and start again."""
POLICY_MOVED = 5
"""A one-shot command that writes (``ingest``, ``tick``): another process applied a change of
configuration while it ran, so its last batch, computed under the old policy version, was
not stored (the batches before it were). Run it again under the configuration now in use;
what was stored already counts as duplicates. ``consume`` and ``serve`` go on under the
store's new version instead."""
RECOMPUTE_BUSY = 6
"""``replay`` (and ``replay --verify``): another process holds the recompute lease (it is
applying a configuration change, or running a replay) beyond ``--wait``, or took it over
while the replay ran; any command: another process took the lease over while this one
applied a configuration change (it stalled beyond the lease). Nothing was switched; run it
again once ``slaclock policy status`` shows no recompute in progress. ``consume`` and
``serve`` look again instead and go on under the store's version meanwhile."""
INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT) outside ``consume``, as shells report it (128 + 2)."""
