"""Output for people: aligned plain-text tables (``--json`` output lives in projections)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    """Print ``data`` as JSON with ``--json``, else the text for people."""
    print(json.dumps(data, indent=1) if getattr(args, "json", False) else human)


def counts_table(counts: Mapping[str, Any]) -> str:
    """Counts (accepted, rejected, ...) as a one-row table."""
    return table(list(counts), [list(counts.values())])


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain table with a header rule; ``None`` prints as ``-``."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def explain_human(data: dict[str, Any]) -> str:
    contract = data.get("contract")
    lines = [
        f"ticket {data['ticket_id']}  customer {data['customer_id']}  plan {data['plan'] or '-'}"
        f"  priority {data['priority']}  as of {data['as_of']}",
        f"policy version {data.get('policy_version') or '-'}"
        + (
            f"  contract from {contract['from']}, fee {contract['monthly_fee']}"
            if contract
            else "  no contract: no guarantees"
        ),
    ]
    for metric, clock in data["clocks"].items():
        if "cycles" in clock:  # a cycle metric: each cycle explained like a clock
            if not clock["cycles"]:
                lines.append(f"\n{metric}: {clock['status']}, no cycle yet")
            for number, cycle in enumerate(clock["cycles"]):
                group = f" (group {cycle['group']})" if cycle.get("group") else ""
                lines += _clock_lines(f"{metric} cycle {number + 1}{group}", cycle)
            continue
        lines += _clock_lines(metric, clock)
    if data.get("events"):
        lines.append("\nevents:")
        rows = [[e["occurred_at"], e["type"], e["source"]] for e in data["events"]]
        lines.append(table(["occurred_at", "type", "source"], rows))
    return "\n".join(lines)


def _clock_lines(name: str, clock: dict[str, Any]) -> list[str]:
    """One clock (or cycle) of an explanation: its outcome, timeline and notes."""
    if clock["status"] == "not_applicable":
        return [f"\n{name}: not applicable"]
    lines = [
        f"\n{name}: {clock['status']}, {clock['elapsed_seconds']} s of "
        f"{clock['target_seconds']} s on {clock['calendar']}, deadline {clock['deadline']}"
    ]
    rows = [
        [span["from"], span["to"], span["kind"], _hm(span["counted_seconds"]), span["detail"]]
        for span in clock.get("timeline", [])
    ]
    lines.append(table(["from", "to", "kind", "counted", "detail"], rows))
    for note in clock.get("notes", []):
        lines.append(f"  {note['at']}  {note['text']}")
    return lines


def _hm(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds else "-"


def hours_human(data: dict[str, Any]) -> str:
    """Hour-account statements as a person reads them: balances, then the lines."""
    lines = [f"hour account of {data['customer_id']}"]
    for st in data["statements"]:
        lines.append(
            f"\n{st['month']}: opening {_signed_hm(st['opening_balance_minutes'])}"
            f"  + credit {_signed_hm(st['credit_minutes'])}"
            f"  - billed {_signed_hm(st['billed_minutes'])}"
            f"  = closing {_signed_hm(st['closing_balance_minutes'])}"
            f"  (overdraft limit {_signed_hm(st['overdraft_limit_minutes'])}"
            + (
                f", OVER by {_signed_hm(st['over_limit_minutes'])}"
                if st["over_limit_minutes"]
                else ""
            )
            + ")"
        )
        rows = [
            [ln["date"], ln["ticket_id"], ln["actor"], ln["mode"], ln["worked_minutes"],
             ln["billed_minutes"], ln["waived_minutes"] or None, ln["waived_reason"]]
            for ln in st["lines"]
        ]  # fmt: skip
        headers = ["date", "ticket", "who", "mode", "worked", "billed", "waived", "why"]
        lines.append(table(headers, rows))
    return "\n".join(lines)


def _signed_hm(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}h{abs(minutes) % 60:02d}m"


def objectives_table(objectives: list[dict[str, Any]]) -> str:
    """A customer's objectives of the month: share promised, counts, attainment, tier."""
    rows = [
        [
            o["metric"],
            "all" if o["priorities"] is None else ",".join(map(str, o["priorities"])),
            o["target"],
            o["met"],
            o["breached"],
            "-" if o["attainment"] is None else f"{o['attainment']:.4f}",
            "not assessed" if not o["assessed"] else "achieved" if o["achieved"] else "missed",
            o["credit"] or "-",
            o["amount"],
        ]
        for o in objectives
    ]
    headers = ["objective", "priorities", "target", "met", "breached", "attainment", "verdict"]
    return table([*headers, "credit", "amount"], rows)


def credits_human(data: dict[str, Any]) -> str:
    """A credit statement: per customer its entries and adjustments, subtotal, cap, total."""
    closed = f", closed {data['closed_at']}" if "closed_at" in data else ""
    lines = [f"credits {data['month']} as of {data['as_of']} ({data['currency']}{closed})"]
    for c in data["customers"]:
        lines.append(
            f"\n{c['customer_id']}: subtotal {c['subtotal']}  cap {c['cap'] or '-'}"
            f"  total {c['total']}"
        )
        rows = [[e["ticket_id"], e["metric"], e["breached_at"], e["amount"]] for e in c["entries"]]
        rows += [
            [a["ticket_id"], a["metric"], a["breached_at"], f"{a['amount']} ({a['kind']})"]
            for a in c.get("adjustments", [])
        ]
        lines.append(table(["ticket", "metric", "breached_at", "amount"], rows))
        if c.get("objectives"):
            lines.append(objectives_table(c["objectives"]))
    if not data["customers"]:
        lines.append("no credits")
    return "\n".join(lines)
