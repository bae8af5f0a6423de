"""The copilot registry: versions, evaluations and promotions, in the telemetry store's database.

Three tables beside the ``events`` table (SQLite by default, PostgreSQL for teams: ``WORKBENCH_STORE_URL``),
created when missing. This module is the one place their schema is written down (migrations come with the
project's Alembic setup later):

- ``copilot_versions``: one row per ``id@version`` with its spec (JSON, paths absolute) and digest. A version is
  immutable: registering the same version with a different spec is refused (bump the version).
- ``copilot_evaluations``: every evaluation report (JSON), newest last.
- ``copilot_promotions``: an append-only history of stage changes. The current GA version and the canary are
  replayed from it: ``promote --to ga`` pushes a version on the GA stack, ``rollback`` pops it (the previous GA
  version serves again), promoting the canary to GA ends the canary.

Writes go through :meth:`~workbench.telemetry.TelemetryStore.connection`, so SQLite keeps its one writer
connection per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from workbench.copilots.spec import CopilotSpec, spec_from_data
from workbench.errors import NotFoundError, PromotionError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from workbench.copilots.evaluation import EvalReport
    from workbench.telemetry import TelemetryStore

Stage = Literal["canary", "ga"]
STAGES: tuple[str, ...] = ("canary", "ga")

metadata = sa.MetaData()
_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, *items: sa.schema.SchemaItem) -> sa.Table:
    """A registry table: a sequence key and the copilot and version a row is about, then ``items``."""
    return sa.Table(
        name,
        metadata,
        sa.Column("seq", _KEY, primary_key=True, autoincrement=True),
        sa.Column("copilot", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        *items,
    )


versions_table = _table(
    "copilot_versions",
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("spec_path", sa.String(2000)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64)),
    sa.UniqueConstraint("copilot", "version", name="ux_copilot_versions"),
)
evaluations_table = _table(
    "copilot_evaluations",
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("passed", sa.Boolean(), nullable=False),
    sa.Column("report", sa.JSON(), nullable=False),
    sa.Index("ix_copilot_evaluations_version", "copilot", "version"),
)
promotions_table = _table(
    "copilot_promotions",
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # promote | rollback | end
    sa.Column("previous", sa.String(100)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64)),
    sa.Column("note", sa.String(2000)),
    sa.Index("ix_copilot_promotions_copilot", "copilot"),
)
# Serialises table creation between processes on PostgreSQL (pg_advisory_xact_lock key: "wbcopilt").
_PG_SCHEMA_LOCK = 0x7762_636F_7069_6C74 & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class VersionRecord:
    """A registered copilot version."""

    copilot: str
    version: str
    digest: str
    spec: dict[str, Any]
    spec_path: str | None
    created_at: datetime

    @property
    def ref(self) -> str:
        """``id@version``."""
        return f"{self.copilot}@{self.version}"

    def load_spec(self) -> CopilotSpec:
        """The registered spec (from its snapshot: later edits of the file do not change a version)."""
        return spec_from_data(dict(self.spec))


@dataclass(frozen=True)
class Promotion:
    """One stage change."""

    copilot: str
    version: str
    stage: str
    action: str
    previous: str | None
    created_at: datetime
    actor: str | None = None
    note: str | None = None


@dataclass
class StageState:
    """Where a copilot's versions serve: the GA version, the canary, and the GA history (oldest first)."""

    copilot: str
    ga: str | None = None
    canary: str | None = None
    ga_stack: list[str] = field(default_factory=list)

    @property
    def previous_ga(self) -> str | None:
        """The version ``rollback`` would restore."""
        return self.ga_stack[-2] if len(self.ga_stack) > 1 else None

    def stage_of(self, version: str) -> str | None:
        """``ga``, ``canary`` or ``None``."""
        return "ga" if version == self.ga else "canary" if version == self.canary else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)  # SQLite drops the zone


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"it-helpdesk@3"`` -> ``("it-helpdesk", "3")``; ``"it-helpdesk"`` -> ``("it-helpdesk", None)``."""
    copilot, sep, version = ref.partition("@")
    return copilot.strip(), (version.strip() or None) if sep else None


class CopilotRegistry:
    """Versions, evaluations and promotions of copilots (see the module docstring). Open with :func:`open_registry`."""

    def __init__(self, store: TelemetryStore, *, owned: bool = False) -> None:
        self.store = store
        self._owned = owned
        with self._conn("create the copilot registry tables", write=True) as conn:
            if store.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
            metadata.create_all(conn, checkfirst=True)

    @contextmanager
    def _conn(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        with self.store.connection(action, write=write) as conn:
            yield conn

    def close(self) -> None:
        """Close the store when this registry opened it."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> CopilotRegistry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- versions ---------------------------------------------------------------------------------------------

    def register(self, spec: CopilotSpec) -> VersionRecord:
        """Register ``spec``'s version (a no-op when it is registered with the same content).

        Raises:
            ValidationError: The version is registered with a different spec (bump ``version``).
        """
        digest = spec.digest()
        with self._conn("register a copilot version", write=True) as conn:
            row = conn.execute(
                sa.select(versions_table).where(
                    versions_table.c.copilot == spec.id, versions_table.c.version == spec.version
                )
            ).first()
            if row is not None:
                if row.digest != digest:
                    raise spec.error(
                        f"{spec.ref} is registered with a different spec (the registry's digest is {row.digest}, "
                        f"this file's is {digest})",
                        ("version",),
                        hint="a registered version is immutable: bump 'version' for a changed copilot",
                    )
                return _version(row)
            values: dict[str, Any] = {
                "copilot": spec.id, "version": spec.version, "digest": digest, "spec": spec.to_dict(),
                "spec_path": str(spec.source) if spec.source else None, "created_at": _now(),
                "created_by": _actor(),
            }  # fmt: skip
            conn.execute(versions_table.insert().values(**values))
        return VersionRecord(spec.id, spec.version, digest, spec.to_dict(), values["spec_path"], values["created_at"])

    def get(self, copilot: str, version: str | None = None) -> VersionRecord:
        """A registered version; without ``version``, the GA version (else the newest registered).

        Raises:
            NotFoundError: Unknown copilot or version.
        """
        if version is None:
            version = self.state(copilot).ga
        query = sa.select(versions_table).where(versions_table.c.copilot == copilot)
        if version is not None:
            query = query.where(versions_table.c.version == version)
        with self._conn("read the copilot registry") as conn:
            row = conn.execute(query.order_by(versions_table.c.seq.desc())).first()
        if row is None:
            known = ", ".join(v.ref for v in self.versions(copilot)[-5:]) or "none"
            what = f"{copilot}@{version}" if version else copilot
            raise NotFoundError(
                f"copilot '{what}' is not registered",
                hint=f"registered versions: {known}; 'workbench copilot eval SPEC' registers a version",
            )
        return _version(row)

    def versions(self, copilot: str | None = None) -> list[VersionRecord]:
        """Registered versions (of one copilot, or all), oldest first."""
        query = sa.select(versions_table).order_by(versions_table.c.seq)
        if copilot is not None:
            query = query.where(versions_table.c.copilot == copilot)
        with self._conn("read the copilot registry") as conn:
            return [_version(row) for row in conn.execute(query)]

    def copilots(self) -> list[str]:
        """Ids of registered copilots, sorted."""
        with self._conn("read the copilot registry") as conn:
            return sorted(conn.execute(sa.select(versions_table.c.copilot).distinct()).scalars())

    # -- evaluations ------------------------------------------------------------------------------------------

    def record_evaluation(self, report: EvalReport) -> None:
        """Store an evaluation report of a registered version."""
        with self._conn("store a copilot evaluation", write=True) as conn:
            conn.execute(
                evaluations_table.insert().values(
                    copilot=report.copilot, version=report.version, digest=report.digest, created_at=_now(),
                    passed=report.passed, report=report.to_dict(),
                )
            )  # fmt: skip

    def last_evaluation(self, copilot: str, version: str) -> EvalReport | None:
        """The newest evaluation of ``copilot@version`` (of its registered content), or ``None``."""
        from workbench.copilots.evaluation import EvalReport

        c = evaluations_table.c
        query = sa.select(evaluations_table).where(c.copilot == copilot, c.version == version)
        with self._conn("read the copilot registry") as conn:
            row = conn.execute(query.order_by(c.seq.desc())).first()
        return EvalReport.from_dict(row.report) if row is not None else None

    # -- stages -----------------------------------------------------------------------------------------------

    def history(self, copilot: str) -> list[Promotion]:
        """Every stage change of ``copilot``, oldest first."""
        c = promotions_table.c
        with self._conn("read the copilot registry") as conn:
            rows = conn.execute(sa.select(promotions_table).where(c.copilot == copilot).order_by(c.seq)).all()
        return [
            Promotion(r.copilot, r.version, r.stage, r.action, r.previous, _utc(r.created_at), r.actor, r.note)
            for r in rows
        ]

    def state(self, copilot: str) -> StageState:
        """The GA version and canary of ``copilot``, replayed from its history."""
        state = StageState(copilot)
        for p in self.history(copilot):
            if p.stage == "ga" and p.action == "promote":
                state.ga_stack.append(p.version)
            elif p.stage == "ga" and p.action == "rollback" and state.ga_stack:
                state.ga_stack.pop()
            elif p.stage == "canary":
                state.canary = p.version if p.action == "promote" else None
        state.ga = state.ga_stack[-1] if state.ga_stack else None
        return state

    def promote(
        self, target: CopilotSpec | str, stage: str, *, note: str | None = None
    ) -> Promotion:
        """Promote a version to ``canary`` or ``ga`` once its last evaluation passes every gate.

        Args:
            target: A spec (registered first) or ``id@version`` of a registered version.
            stage: ``canary`` or ``ga``.
            note: Why (kept in the history).

        Raises:
            PromotionError: No evaluation of this content, a failed gate (named), or a pointless move.
        """
        if stage not in STAGES:
            raise ValidationError(f"unknown stage '{stage}'", field="stage", hint="use canary or ga")
        record = self._target(target)
        spec = record.load_spec()
        report = self.last_evaluation(record.copilot, record.version)
        if report is None or report.digest != record.digest:
            raise PromotionError(
                f"{record.ref} has no evaluation of its registered spec, so no gate can be checked",
                hint=f"run 'workbench copilot eval {record.spec_path or record.ref}' first",
            )
        self._check_gates(spec, report, stage)
        state = self.state(record.copilot)
        if state.stage_of(record.version) == stage or (stage == "canary" and state.ga == record.version):
            raise PromotionError(
                f"{record.ref} is already {state.stage_of(record.version)}", hint="promote another version"
            )
        rows = [(record.version, stage, "promote", state.ga if stage == "ga" else state.canary)]
        if stage == "ga" and state.canary == record.version:
            rows.append((record.version, "canary", "end", None))  # the canary became GA
        self._append(record.copilot, rows, note=note)
        return self.history(record.copilot)[-len(rows)]

    def _check_gates(self, spec: CopilotSpec, report: EvalReport, stage: str) -> None:
        from workbench.copilots.gates import check_gates

        failing = [g for g in check_gates(spec, report.metrics) if not g.passed]
        if failing:
            first = failing[0]
            more = f" (and {', '.join(g.name for g in failing[1:])})" if len(failing) > 1 else ""
            raise PromotionError(
                f"refusing to promote {spec.ref} to {stage}: gate {first.name} failed ({first.describe()}){more}",
                field=first.name,
                hint="improve the copilot and evaluate a new version, or change the gate in the spec (a new "
                "version too)",
            )

    def rollback(self, copilot: str, *, note: str | None = None) -> Promotion:
        """Restore the previous GA version of ``copilot``.

        Raises:
            PromotionError: There is no previous GA version.
        """
        state = self.state(copilot)
        target = state.previous_ga
        if target is None:
            raise PromotionError(
                f"'{copilot}' has no previous GA version to roll back to"
                + (f" (GA is {state.ga}, the first one)" if state.ga else " (nothing is GA)"),
                hint="promote a version with 'workbench copilot promote SPEC --to ga'",
            )
        self._append(copilot, [(target, "ga", "rollback", state.ga)], note=note)
        return self.history(copilot)[-1]

    def end_canary(self, copilot: str, *, note: str | None = None) -> Promotion:
        """Stop the canary (its traffic goes back to the GA version).

        Raises:
            PromotionError: There is no canary.
        """
        state = self.state(copilot)
        if state.canary is None:
            raise PromotionError(f"'{copilot}' has no canary", hint="nothing to end")
        self._append(copilot, [(state.canary, "canary", "end", None)], note=note)
        return self.history(copilot)[-1]

    def _target(self, target: CopilotSpec | str) -> VersionRecord:
        if isinstance(target, CopilotSpec):
            return self.register(target)
        copilot, version = parse_ref(target)
        if version is None:
            raise ValidationError(
                f"'{target}' names no version", field="version", hint=f"write it as {copilot}@<version>, or pass the spec"
            )
        return self.get(copilot, version)

    def _append(self, copilot: str, rows: list[tuple[str, str, str, str | None]], *, note: str | None) -> None:
        actor, now = _actor(), _now()
        with self._conn("record a copilot promotion", write=True) as conn:
            for version, stage, action, previous in rows:
                conn.execute(
                    promotions_table.insert().values(
                        copilot=copilot, version=version, stage=stage, action=action, previous=previous,
                        created_at=now, actor=actor, note=note,
                    )
                )  # fmt: skip


def _version(row: Any) -> VersionRecord:
    return VersionRecord(row.copilot, row.version, row.digest, dict(row.spec), row.spec_path, _utc(row.created_at))


def _actor() -> str:
    from workbench.guardrails import resolve_learner

    return resolve_learner()


def open_registry(url: str | Path | None = None) -> CopilotRegistry:
    """The registry in the telemetry store at ``url`` (default ``settings.store_url``); close it when done."""
    from workbench.telemetry import open_store

    return CopilotRegistry(open_store(url), owned=True)
