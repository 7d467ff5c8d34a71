"""The report answers the API serves: the very functions the command line uses."""

from __future__ import annotations

from slaclock.projections.answers import compliance_answer, credits_answer, ownership_answer

__all__ = ["compliance_answer", "credits_answer", "ownership_answer"]
