"""Month reports as CSV downloads (``format=csv``): one row per report line, spreadsheet-safe.

Cells that a spreadsheet would run as a formula are quoted with a leading ``'``, and the file
name carries the month and, for one customer, a sanitised customer id.
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

_FORMULA = re.compile(r"^[=+\-@\t\r]")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def compliance_csv(data: dict[str, Any], month: str, customer: str | None) -> Response:
    """The compliance report ``data`` (its JSON answer) as a CSV download."""
    header = ["month", "as_of", "customer_id", "metric", "priority", "met", "breached"]
    lines = [
        [
            month,
            data["as_of"],
            r["customer_id"],
            r["metric"],
            r["priority"],
            r["met"],
            r["breached"],
            r["attainment"],
        ]
        for r in data["rows"]
    ]
    return csv_response([*header, "attainment"], lines, f"compliance_{month}", customer)


OBJECTIVE_COLUMNS = ["priorities", "target", "met", "breached", "attainment", "credit"]
"""Columns a credits download adds when the report has objectives (then one ``objective``
line per objective, before subtotal, cap and total)."""


def credits_csv(data: dict[str, Any], month: str, customer: str | None) -> Response:
    """The credits report ``data`` (its JSON answer) as a CSV download: per customer its
    entries and adjustments, its objectives (when the plans have any), then subtotal, cap
    and total."""
    with_objectives = any("objectives" in c for c in data["customers"])
    header = [
        "month",
        "as_of",
        "currency",
        "customer_id",
        "line",
        "ticket_id",
        "metric",
        "breached_at",
        "amount",
    ]
    lines: list[list[Any]] = []
    head = [month, data["as_of"], data["currency"]]
    for c in data["customers"]:
        entries = [("entry", e) for e in c["entries"]]
        entries += [(f"adjustment:{a.get('kind')}", a) for a in c.get("adjustments", [])]
        for line, e in entries:
            lines.append(
                [
                    *head,
                    c["customer_id"],
                    line,
                    e.get("ticket_id"),
                    e.get("metric"),
                    e.get("breached_at"),
                    e.get("amount"),
                ]
            )
        for o in c.get("objectives", []):
            cells = [*head, c["customer_id"], "objective", "", o["metric"], "", o["amount"]]
            lines.append([*cells, *_objective_cells(o)])
        for line in ("subtotal", "cap", "total"):
            lines.append([*head, c["customer_id"], line, "", "", "", c[line] or ""])
    if with_objectives:
        header += OBJECTIVE_COLUMNS
        lines = [[*cells, *[""] * (len(header) - len(cells))] for cells in lines]
    return csv_response(header, lines, f"credits_{month}", customer)


def _objective_cells(objective: dict[str, Any]) -> list[Any]:
    priorities = objective["priorities"]
    return [
        "*" if priorities is None else " ".join(map(str, priorities)),
        objective["target"],
        objective["met"],
        objective["breached"],
        objective["attainment"],
        objective["credit"],
    ]


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and _FORMULA.match(text):
        return "'" + text
    return text


def csv_response(
    header: list[str], rows: Iterable[list[Any]], stem: str, customer: str | None
) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    name = stem if customer is None else f"{stem}_{_FILENAME.sub('_', customer)[:60]}"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
