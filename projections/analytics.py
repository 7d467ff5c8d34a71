"""The analytics interface in the store: PostgreSQL views, SQLite tables, the analyst role.

On PostgreSQL the datasets of ``projections.analytics_columns`` are views in a schema of
their own (``slaclock_analytics``; for a store in schema S, ``S_analytics``), live, with a
``COMMENT ON`` for the view and every column. On SQLite, whose views carry no column types,
they are tables ``analytics_<dataset>`` with declared types, filled by :func:`refresh`
(``slaclock analytics refresh``, and every export). Both have a column dictionary
(``columns`` / ``analytics_columns``). The definitions are installed when the store opens
and differ from what it has (``sla_meta`` key ``analytics_interface``), and re-created when
a rebuild replaces the tables they read (``projections.rebuild``).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slaclock.projections.analytics_columns import (
    DATASETS,
    INTERFACE_VERSION,
    PG_TYPES,
    SQLITE_TYPES,
    Dataset,
)
from slaclock.projections.analytics_sql import PLAIN, plain, typed
from slaclock.projections.meta import ANALYTICS_INTERFACE, read_meta, write_meta
from slaclock.projections.tables import Dialect

if TYPE_CHECKING:
    from psycopg import sql as pgsql
else:

    class _PostgresSql:
        """``psycopg.sql``, imported on first use: only a PostgreSQL store uses it, and
        importing psycopg costs 0.3 s of every command's start-up."""

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("psycopg.sql"), name)

    pgsql = _PostgresSql()

PG_NOW = "CAST(EXTRACT(EPOCH FROM now()) AS bigint)"
SQLITE_PREFIX = "analytics_"
DICTIONARY = "columns"
REFRESHED = SQLITE_PREFIX + "refreshed"
"""SQLite: one row, when ``analytics refresh`` last filled the tables (UTC)."""
_DICTIONARY_COLUMNS = (
    ("dataset", "TEXT"),
    ("position", "INTEGER"),
    ("column_name", "TEXT"),
    ("data_type", "TEXT"),
    ("unit", "TEXT"),
    ("nullable", "BOOLEAN"),
    ("allowed_values", "TEXT"),
    ("description", "TEXT"),
    ("interface_version", "TEXT"),
)


def analytics_schema(store_schema: str) -> str:
    """The PostgreSQL schema of the views of a store kept in ``store_schema``."""
    return "slaclock_analytics" if store_schema in ("", "public") else f"{store_schema}_analytics"


# ------------------------------------------------------------------------ installing
def install(datastore: Any, dialect: Dialect) -> bool:
    """Create (or re-create) the interface unless the store has it as defined here; True
    when it did."""
    digest = _digest(dialect)

    def installed(cursor: Any) -> bool:
        return read_meta(cursor, dialect, [ANALYTICS_INTERFACE]).get(ANALYTICS_INTERFACE) == digest

    with datastore.transaction(commit=True) as cursor:
        if installed(cursor):
            return False
        if dialect.name == "postgres":  # one process installs, the others find it done
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('slaclock_analytics'))")
            if installed(cursor):
                return False
            schema = analytics_schema(datastore.schema)
            cursor.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(_id(schema)))
            drop_views(cursor, dialect, schema)
            create_views(cursor, dialect, schema)
        else:
            _create_sqlite_tables(cursor)
        write_meta(cursor, dialect, [(ANALYTICS_INTERFACE, digest)])
    return True


def _digest(dialect: Dialect) -> str:
    text = repr((dialect.name, PLAIN, DATASETS, _DICTIONARY_COLUMNS, REFRESHED, SCOPED))
    return f"{INTERFACE_VERSION}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _id(*names: str) -> pgsql.Identifier:
    return pgsql.Identifier(*names)


def drop_views(cursor: Any, dialect: Dialect, schema: str) -> None:
    """Drop the views (before a rebuild drops the tables they read, in its transaction)."""
    for name in DATASETS:
        cursor.execute(pgsql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(_id(schema, name)))


SCOPES_TABLE = """CREATE TABLE IF NOT EXISTS {p}sla_analytics_scopes (
    role_name TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (role_name, customer_id))"""
"""PostgreSQL: the customers a customer-scoped role may see (``analytics grant ROLE
--customer ID``); a role without rows here sees every customer."""
SCOPED = """SELECT * FROM ({select}) s
WHERE NOT EXISTS (SELECT 1 FROM {p}sla_analytics_scopes a WHERE a.role_name = current_user)
    OR s.customer_id IN (
        SELECT a.customer_id FROM {p}sla_analytics_scopes a WHERE a.role_name = current_user)"""
"""A view's rows as the role reading it may see them. The views run with their owner's
rights, but ``current_user`` is the reader; ``security_barrier`` keeps the reader's own
conditions (a function that leaks its arguments) from seeing rows before this filter."""


def create_views(cursor: Any, dialect: Dialect, schema: str) -> None:
    """The PostgreSQL views with their comments, and the column dictionary."""
    cursor.execute(dialect.sql(SCOPES_TABLE))
    scoped = dialect.sql(SCOPED)
    for name, dataset in DATASETS.items():
        select = typed(name, "postgres", plain(name, dialect, PG_NOW))
        view = _id(schema, name)
        cursor.execute(
            pgsql.SQL("CREATE VIEW {} WITH (security_barrier) AS ").format(view)
            + pgsql.SQL(scoped.replace("{select}", select))  # type: ignore[arg-type]
        )
        cursor.execute(pgsql.SQL("COMMENT ON VIEW {} IS {}").format(view, _comment(dataset)))
        for column in dataset.columns:
            cursor.execute(
                pgsql.SQL("COMMENT ON COLUMN {} IS {}").format(
                    _id(schema, name, column.name), pgsql.Literal(_column_comment(column))
                )
            )
    table = _id(schema, DICTIONARY)
    cursor.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(table))
    columns = ", ".join(
        f"{n} {PG_TYPES['boolean'] if t == 'BOOLEAN' else t}" for n, t in _DICTIONARY_COLUMNS
    )
    cursor.execute(pgsql.SQL("CREATE TABLE {} (").format(table) + pgsql.SQL(columns + ")"))  # type: ignore[arg-type]
    cursor.execute(
        pgsql.SQL("COMMENT ON TABLE {} IS {}").format(
            table, pgsql.Literal("Every column of the analytics views: type, unit, meaning.")
        )
    )
    marks = ", ".join(["%s"] * len(_DICTIONARY_COLUMNS))
    cursor.executemany(
        pgsql.SQL("INSERT INTO {} VALUES (").format(table) + pgsql.SQL(marks + ")"),  # type: ignore[arg-type]
        dictionary_rows(PG_TYPES),
    )


def _comment(dataset: Dataset) -> pgsql.Literal:
    keys = ", ".join(dataset.key)
    return pgsql.Literal(
        f"{dataset.description} Grain: {dataset.grain}; key: {keys}."
        f" slaclock analytics interface {INTERFACE_VERSION}."
    )


def _column_comment(column: Any) -> str:
    text = column.description
    if column.unit:
        text += f" Unit: {column.unit}."
    if column.allowed:
        text += f" Values: {column.allowed}."
    return text + (" May be null." if column.nullable else " Never null.")


def dictionary_rows(types: dict[str, str]) -> list[tuple[Any, ...]]:
    """The column dictionary: one row per column of every dataset."""
    return [
        (
            name,
            position,
            c.name,
            types[c.kind],
            c.unit or None,
            c.nullable,
            c.allowed or None,
            c.description,
            INTERFACE_VERSION,
        )
        for name, dataset in DATASETS.items()
        for position, c in enumerate(dataset.columns, start=1)
    ]


def _create_sqlite_tables(cursor: Any) -> None:
    for name, dataset in DATASETS.items():
        cursor.execute(f"DROP TABLE IF EXISTS {SQLITE_PREFIX}{name}")
        columns = ", ".join(f"{c.name} {SQLITE_TYPES[c.kind]}" for c in dataset.columns)
        cursor.execute(f"CREATE TABLE {SQLITE_PREFIX}{name} ({columns})")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {REFRESHED} (refreshed_at TIMESTAMP NOT NULL)")
    table = SQLITE_PREFIX + DICTIONARY
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    columns = ", ".join(f"{n} {t}" for n, t in _DICTIONARY_COLUMNS)
    cursor.execute(f"CREATE TABLE {table} ({columns})")
    marks = ", ".join("?" * len(_DICTIONARY_COLUMNS))
    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", dictionary_rows(SQLITE_TYPES))


# ------------------------------------------------------------------------- reading
def refresh(store: Any, now: int) -> dict[str, int]:
    """SQLite: fill the analytics tables anew as of ``now`` (epoch s); rows per table.
    PostgreSQL: nothing to do (the views are live); an empty answer."""
    if store.dialect.name == "postgres":
        return {}
    counts: dict[str, int] = {}
    with store.write() as cursor:
        for name, dataset in DATASETS.items():
            table = SQLITE_PREFIX + name
            cursor.execute(f"DELETE FROM {table}")
            names = ", ".join(c.name for c in dataset.columns)
            select = typed(name, "sqlite", plain(name, store.dialect, str(int(now))))
            cursor.execute(f"INSERT INTO {table} ({names}) {select}")
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
            counts[name] = int(cursor.fetchall()[0]["n"])
        cursor.execute(f"DELETE FROM {REFRESHED}")
        cursor.execute(f"INSERT INTO {REFRESHED} VALUES (datetime(?, 'unixepoch'))", [int(now)])
    return counts


# ----------------------------------------------------------------------- the role
_KNOWN_CUSTOMER = """SELECT 1 FROM {p}sla_analytics_contracts WHERE customer_id = ?
    UNION ALL SELECT 1 FROM {p}sla_tickets WHERE customer_id = ? LIMIT 1"""


class RoleError(Exception):
    """The analyst role cannot be granted (unknown role, not PostgreSQL)."""


def grant(store: Any, role: str, customers: Sequence[str] = ()) -> str:
    """Give ``role`` SELECT on the analytics schema and nothing else; the schema's name.
    With ``customers``, the views show ``role`` those customers' rows only; without, every
    row (a scope given before is lifted)."""
    if store.dialect.name != "postgres":
        raise RoleError("analytics grant: roles exist on PostgreSQL stores only")
    schema = analytics_schema(store.datastore.schema)
    dialect = store.dialect
    with store.write() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if not cursor.fetchall():
            raise RoleError(f"analytics grant: ROLE: no role {role!r} (CREATE ROLE it first)")
        for customer in customers:
            cursor.execute(dialect.sql(_KNOWN_CUSTOMER), [customer, customer])
            if not cursor.fetchall():
                raise RoleError(
                    f"analytics grant: --customer: no customer {customer!r} in the store"
                    " (no contract and no ticket names it)"
                )
        cursor.execute(dialect.sql(SCOPES_TABLE))
        cursor.execute(
            dialect.sql("DELETE FROM {p}sla_analytics_scopes WHERE role_name = ?"), [role]
        )
        cursor.executemany(
            dialect.sql(
                "INSERT INTO {p}sla_analytics_scopes (role_name, customer_id) VALUES (?, ?)"
            ),
            [(role, customer) for customer in sorted(set(customers))],
        )
        for statement in (
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
        ):
            cursor.execute(pgsql.SQL(statement).format(schema=_id(schema), role=_id(role)))
    return schema
