"""The few SQL expressions SQLite and PostgreSQL spell differently, for aggregations that run in the database.

The skills report aggregates evidence per (learner, skill) in one SQL query
(:mod:`workbench.skills.sql_estimates`); the query is written once and asks the store's dialect
(:meth:`TelemetryStore.sql_dialect <workbench.telemetry.store.TelemetryStore.sql_dialect>`) for the parts that
differ: reading a JSON attribute as text or as a number, the entries of a ``{skill: weight}`` mapping (or a list
of skills), epoch seconds of a stored time, and the two-argument ``greatest``/``least``.

Every method returns SQL text built from the caller's own SQL expressions and constant keys, never from user
input: values travel as bound parameters.
"""

from __future__ import annotations

import re

#: ``work_mem`` of the skills aggregation's transaction on PostgreSQL (per sort or hash node, one query at a time).
AGGREGATION_WORK_MEM = "64MB"

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _checked(key: str) -> str:
    if not _KEY.match(key):  # keys are constants of the calling code; refuse anything that could break quoting
        raise ValueError(f"unsupported JSON key {key!r}")
    return key


class SqlDialect:
    """SQL fragments of one database (see the module docstring)."""

    name = ""

    def json_text(self, doc: str, key: str) -> str:
        """The attribute ``key`` of the JSON object ``doc``: a string as text, another scalar as SQL sees it,
        NULL when missing or JSON null."""
        raise NotImplementedError

    def json_number(self, doc: str, key: str) -> str:
        """The attribute ``key`` as a double: JSON numbers as they are, ``true``/``false`` as 1/0, else NULL."""
        raise NotImplementedError

    def skill_entries(self, doc: str, key: str) -> tuple[str, str, str]:
        """``(join, skill, weight)``: a join clause appended after the row holding ``doc`` that yields one row
        per entry of the attribute ``key`` (an object ``{skill: weight}``, or a list of skills with weight 1),
        and the SQL of the entry's skill (text) and raw weight (a double; 0 for a weight that is not a number).
        Rows whose ``key`` is neither an object nor a list yield no entries."""
        raise NotImplementedError

    def epoch_seconds(self, time: str) -> str:
        """Seconds since 1970-01-01 UTC of a stored time column, as a double (microseconds kept)."""
        raise NotImplementedError

    def aggregation_settings(self) -> list[str]:
        """Statements run first in the read transaction of a large aggregation (settings local to it)."""
        return []

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"


class SqliteDialect(SqlDialect):
    """SQLite 3.38+ (JSON functions and math functions built in, as in CPython's bundled SQLite)."""

    name = "sqlite"

    def json_text(self, doc: str, key: str) -> str:
        return f"json_extract({doc}, '$.\"{_checked(key)}\"')"

    def json_number(self, doc: str, key: str) -> str:
        path = f"'$.\"{_checked(key)}\"'"
        return (
            f"(CASE json_type({doc}, {path}) WHEN 'integer' THEN CAST(json_extract({doc}, {path}) AS REAL) "
            f"WHEN 'real' THEN json_extract({doc}, {path}) WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END)"
        )

    def skill_entries(self, doc: str, key: str) -> tuple[str, str, str]:
        path = f"'$.\"{_checked(key)}\"'"
        kind = f"json_type({doc}, {path})"
        # json_each walks an object's members (key = skill, value = weight) or a list's items (value = skill).
        join = f"JOIN json_each({doc}, {path}) AS entry ON {kind} IN ('object', 'array')"
        skill = f"(CASE WHEN {kind} = 'object' THEN entry.key ELSE CAST(entry.value AS TEXT) END)"
        weight = (
            f"(CASE WHEN {kind} = 'array' THEN 1.0 WHEN entry.type IN ('integer', 'real') THEN "
            "CAST(entry.value AS REAL) WHEN entry.type = 'true' THEN 1.0 ELSE 0.0 END)"
        )
        return join, skill, weight

    def epoch_seconds(self, time: str) -> str:
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC): whole seconds from strftime on the text without its
        # fraction, the fraction from the text (SQLite's date functions round to milliseconds, so .9996 s would
        # become the next second).
        return f"(CAST(strftime('%s', substr({time}, 1, 19)) AS REAL) + CAST(substr({time}, 20) AS REAL))"

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"min({a}, {b})"


class PostgresDialect(SqlDialect):
    """PostgreSQL 12+ (``attributes`` is JSONB)."""

    name = "postgresql"

    def json_text(self, doc: str, key: str) -> str:
        return f"({doc} ->> '{_checked(key)}')"

    def json_number(self, doc: str, key: str) -> str:
        value = f"({doc} -> '{_checked(key)}')"
        return (
            f"(CASE jsonb_typeof({value}) WHEN 'number' THEN ({value} #>> '{{}}')::float8 "
            f"WHEN 'boolean' THEN CASE WHEN {value} = 'true'::jsonb THEN 1.0 ELSE 0.0 END END)"
        )

    def skill_entries(self, doc: str, key: str) -> tuple[str, str, str]:
        value = f"({doc} -> '{_checked(key)}')"
        # jsonb_each / jsonb_array_elements raise on the wrong type: each gets an empty document instead.
        join = (
            "CROSS JOIN LATERAL ("
            "SELECT o.key AS skill, CASE jsonb_typeof(o.value) WHEN 'number' THEN (o.value #>> '{}')::float8 "
            "WHEN 'boolean' THEN CASE WHEN o.value = 'true'::jsonb THEN 1.0 ELSE 0.0 END ELSE 0.0 END AS weight "
            f"FROM jsonb_each(CASE WHEN jsonb_typeof({value}) = 'object' THEN {value} ELSE '{{}}'::jsonb END) AS o "
            "UNION ALL "
            "SELECT a.value #>> '{}', 1.0 "
            f"FROM jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ELSE '[]'::jsonb END)"
            " AS a) AS entry"
        )
        return join, "entry.skill", "entry.weight"

    def epoch_seconds(self, time: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM {time}) AS double precision)"

    def aggregation_settings(self) -> list[str]:
        # Hundreds of thousands of (learner, skill) groups: with the default 4 MB the hash aggregate and the sort
        # spill to disk. The setting ends with the (read-only) transaction.
        return [f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}'"]


def dialect_for(name: str) -> SqlDialect:
    """The fragments of the database ``name`` (``"sqlite"`` or ``"postgresql"``)."""
    if name == "sqlite":
        return SqliteDialect()
    if name == "postgresql":
        return PostgresDialect()
    raise ValueError(f"no SQL fragments for the database '{name}'")
