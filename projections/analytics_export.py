"""Exports of the analytics datasets: one file per month, Hive-style, Parquet or CSV.

``DIR/DATASET/v1/period_month=2025-09-01/part-0.parquet`` (or ``.csv``): the interface
version is in the path and, for Parquet, in the file's metadata (``slaclock.interface``).
Instants are UTC (Parquet ``timestamp[us, UTC]``, CSV ISO 8601 with ``Z``), amounts
decimals (``decimal128(18,2)``), months dates. A closed month's file is written once more
after it closed and then never again (a ``.closed`` marker beside it); open months are
rewritten on every export. pyarrow is needed for Parquet only (``slaclock[parquet]``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.projections.analytics_columns import DATASETS, INTERFACE_VERSION, Column
from slaclock.projections.analytics_sql import plain
from slaclock.projections.queries import MONTH_MARGIN, month_bounds

CLOSED_MARKER = ".closed"
CENT = Decimal("0.01")


class ExportError(Exception):
    """An export that cannot run (pyarrow missing for Parquet)."""


@dataclass(frozen=True)
class Written:
    month: str
    path: str
    rows: int | None
    """None: kept (a closed month written before)."""


def partition(out: Path, dataset: str, month: str) -> Path:
    return out / dataset / INTERFACE_VERSION / f"period_month={month}-01"


def export(
    store: Any, dataset: str, months: Sequence[str], fmt: str, out: Path, now: int
) -> list[Written]:
    """Write ``dataset``'s rows of each of ``months`` (``YYYY-MM``) as of ``now``."""
    write = _parquet_writer() if fmt == "parquet" else _write_csv
    closed = store.closed_months()
    done = []
    for month in months:
        folder = partition(out, dataset, month)
        path = folder / f"part-0.{fmt}"
        if (folder / CLOSED_MARKER).exists() and path.exists():
            done.append(Written(month, str(path), None))
            continue
        rows = dataset_rows(store, dataset, [month], now)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".part-0.{fmt}.tmp"
        write(temporary, dataset, month, month in closed, rows)
        os.replace(temporary, path)
        if month in closed:
            (folder / CLOSED_MARKER).write_text(f"{month} closed; written {now}\n")
        done.append(Written(month, str(path), len(rows)))
    return done


def dataset_rows(store: Any, dataset: str, months: Sequence[str], now: int) -> list[dict[str, Any]]:
    """The plain-valued rows of ``dataset`` whose period_month is one of ``months``
    (``YYYY-MM``), as of ``now`` (epoch s)."""
    firsts = [f"{month}-01" for month in months]
    marks = ", ".join("?" * len(firsts))
    bounds = [month_bounds(month, ZoneInfo("UTC")) for month in months]
    window = (min(b[0] for b in bounds) - MONTH_MARGIN, max(b[1] for b in bounds) + MONTH_MARGIN)
    select = plain(dataset, store.dialect, str(int(now)), window)
    names = ", ".join(f"x.{c.name}" for c in DATASETS[dataset].columns)
    statement = f"SELECT {names} FROM ({select}) x WHERE x.period_month IN ({marks})"
    with store.read() as cursor:
        cursor.execute(store.dialect.sql(statement), firsts)
        return [dict(row) for row in cursor.fetchall()]


# ---------------------------------------------------------------- plain values
def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT)


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: None if v is None else str(v),
    "integer": lambda v: None if v is None else int(v),
    "timestamp": _instant,
    "date": _date,
    "money": _money,
    "ratio": lambda v: None if v is None else float(v),
    "boolean": lambda v: None if v is None else bool(v),
}


def typed_rows(dataset: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plain rows of ``dataset`` with Python values of each column's kind."""
    columns = DATASETS[dataset].columns
    return [{c.name: CONVERT[c.kind](row[c.name]) for c in columns} for row in rows]


# --------------------------------------------------------------------- writers
def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_csv(
    path: Path, dataset: str, month: str, closed: bool, rows: list[dict[str, Any]]
) -> None:
    names = [c.name for c in DATASETS[dataset].columns]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for row in typed_rows(dataset, rows):
            writer.writerow([_csv_text(row[name]) for name in names])


def _parquet_writer() -> Callable[[Path, str, str, bool, list[dict[str, Any]]], None]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(
            "--format parquet needs pyarrow: pip install 'slaclock[parquet]' (or use --format csv)"
        ) from None

    def arrow_column(column: Column, values: list[Any]) -> Any:
        """A column of plain values as Arrow, converted by Arrow's casts (not per value)."""
        kind = column.kind
        if kind == "timestamp":
            seconds = pa.array(values, pa.int64()).cast(pa.timestamp("s", tz="UTC"))
            return seconds.cast(pa.timestamp("us", tz="UTC"))
        if kind == "date":
            return pa.array(values, pa.string()).cast(pa.date32())
        if kind == "money":
            text = [None if v is None else str(v) for v in values]
            return pa.array(text, pa.string()).cast(pa.decimal128(18, 2))
        if kind == "ratio":
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        if kind == "boolean":
            return pa.array([None if v is None else int(v) for v in values]).cast(pa.bool_())
        return pa.array(values, pa.int64() if kind == "integer" else pa.string())

    def write(
        path: Path, dataset: str, month: str, closed: bool, rows: list[dict[str, Any]]
    ) -> None:
        columns = DATASETS[dataset].columns
        arrays = [arrow_column(c, [row[c.name] for row in rows]) for c in columns]
        schema = pa.schema(
            [
                pa.field(c.name, a.type, nullable=c.nullable)
                for c, a in zip(columns, arrays, strict=True)
            ],
            metadata={
                "slaclock.interface": INTERFACE_VERSION,
                "slaclock.dataset": dataset,
                "slaclock.period_month": f"{month}-01",
                "slaclock.month_closed": "true" if closed else "false",
            },
        )
        table = pa.Table.from_arrays(arrays, schema=schema)
        pq.write_table(table, path, compression="zstd")

    return write
