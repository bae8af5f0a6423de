"""xAPI: learners' task starts, completions, failures and scores as statements in a learning record store.

The telemetry store is the queue. :class:`XapiForwarder` reads the events an LRS should hear about that it has
not acknowledged yet (the ``xapi_sent`` table beside the events), turns each into an xAPI 1.0.3 statement
(:func:`statement_for`) and posts them in batches to ``settings.xapi_endpoint``; the events an LRS accepted are
marked sent in the same store. Nothing is lost while the LRS is unreachable or refuses: the events stay unsent
and go with the next sync, and a statement's id is derived from its event's id (UUID 5), so a batch sent twice
(the LRS stored it, the reply was lost) is stored once: an LRS answers a repeated identical statement with 204.

Sending never blocks a notebook: a recorder wakes the forwarder's background thread after each durable write
(:func:`start_forwarding`, called by :func:`workbench.telemetry.get_recorder` when an endpoint is configured),
and ``workbench telemetry xapi-sync`` sends what is left (CI, cron, the end of a batch of runs).

What goes out:

- **actor**: an account ``{homePage: settings.xapi_homepage, name: <learner pseudonym>}``: never a raw id or a
  name (the pseudonym is what the store holds);
- **verb** from the ADL vocabulary: ``attempted`` (task started), ``completed``, ``failed``, ``scored``;
- **object**: the playbook task as an activity, ``<settings.xapi_activity_base>/playbooks/<id>/tasks/<task>``;
- **result**: ``success`` and ``duration`` (ISO 8601) of a task; ``score.scaled`` (0 to 1), ``raw``, ``max`` and
  ``success`` of a learner's scored item (scores of a copilot's answers and per-criterion scores stay local);
- **context**: the run id as ``registration`` is not used (it is not a UUID); the run id, team and attempt go in
  ``context.extensions``.

Erasing a learner (``workbench telemetry erase``) deletes their events here, not statements an LRS already
holds: erase them there too.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from workbench.errors import ConfigError
from workbench.telemetry.events import Event
from workbench.telemetry.schema import event_columns, events_table, row_to_event, xapi_sent_table
from workbench.telemetry.store import TelemetryStore, open_store

log = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"
#: Event kind -> ADL verb id.
VERBS = {
    "task_started": "http://adlnet.gov/expapi/verbs/attempted",
    "task_completed": "http://adlnet.gov/expapi/verbs/completed",
    "task_failed": "http://adlnet.gov/expapi/verbs/failed",
    "score": "http://adlnet.gov/expapi/verbs/scored",
}
#: Namespace of the statement ids (UUID 5 of the event id): the same event is always the same statement.
STATEMENT_NAMESPACE = uuid.UUID("6f1c1a52-0d1e-4f53-9a8e-2b7f0e6c9b3a")
_EXTENSION = "https://workbench.invalid/xapi/extensions/"


@dataclass(frozen=True)
class XapiConfig:
    """Where statements go: the LRS's xAPI base URL, its basic-auth credentials and the IRIs used."""

    endpoint: str
    username: str | None = None
    password: str | None = None
    homepage: str = "https://workbench.invalid/accounts"
    activity_base: str = "https://workbench.invalid/xapi"
    batch_size: int = 100
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls) -> XapiConfig | None:
        """The configuration in the settings, or ``None`` when no endpoint is set."""
        from workbench.settings import get_settings

        s = get_settings()
        if not s.xapi_endpoint:
            return None
        password = s.xapi_password.get_secret_value() if s.xapi_password is not None else None
        return cls(s.xapi_endpoint, s.xapi_username, password, s.xapi_homepage, s.xapi_activity_base)

    @property
    def statements_url(self) -> str:
        """``<endpoint>/statements``."""
        return self.endpoint.rstrip("/") + "/statements"


def statement_id(event_id: str) -> str:
    """The statement id of an event (stable, so a resent statement is the same statement)."""
    return str(uuid.uuid5(STATEMENT_NAMESPACE, event_id))


def _iso_duration(seconds: float) -> str:
    return f"PT{max(0.0, seconds):.2f}S"


def _timestamp(value: datetime) -> str:
    when = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def _result(event: Event) -> dict[str, Any] | None:
    kind, attrs = str(event.kind), event.attributes or {}
    if kind == "score":
        score = attrs.get("score")
        result: dict[str, Any] = {"success": bool(attrs.get("passed"))}
        if isinstance(score, int | float):
            scaled = {"scaled": round(min(1.0, max(0.0, float(score))), 4)}
            if isinstance(attrs.get("raw_score"), int | float) and isinstance(attrs.get("max_score"), int | float):
                scaled.update(raw=attrs["raw_score"], min=0, max=attrs["max_score"])
            result["score"] = scaled
        return result
    if kind in ("task_completed", "task_failed"):
        result = {"success": kind == "task_completed", "completion": kind == "task_completed"}
        if event.duration_s is not None:
            result["duration"] = _iso_duration(event.duration_s)
        return result
    return None


def statement_for(event: Event, config: XapiConfig) -> dict[str, Any] | None:
    """The xAPI statement of ``event``, or ``None`` for an event an LRS does not hear about (see the module
    docstring: task events and a learner's item scores of a playbook task, with a learner)."""
    kind, attrs = str(event.kind), event.attributes or {}
    if kind not in VERBS or not event.learner or not event.playbook or not event.task:
        return None
    if kind == "score" and (attrs.get("criterion") or attrs.get("subject") not in (None, "learner")):
        return None
    verb = VERBS[kind]
    activity = f"{config.activity_base.rstrip('/')}/playbooks/{event.playbook}/tasks/{event.task}"
    extensions = {f"{_EXTENSION}{k}": v for k, v in (("run_id", event.run_id), ("team", event.team),
                                                     ("attempt", attrs.get("attempt"))) if v is not None}  # fmt: skip
    statement: dict[str, Any] = {
        "id": statement_id(event.id),
        "actor": {"objectType": "Agent", "account": {"homePage": config.homepage, "name": event.learner}},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity", "id": activity,
            "definition": {"name": {"en-US": f"{event.playbook}: {event.task}"},
                           "type": "http://adlnet.gov/expapi/activities/assessment"},
        },
        "timestamp": _timestamp(event.time),
    }  # fmt: skip
    result = _result(event)
    if result is not None:
        statement["result"] = result
    if extensions:
        statement["context"] = {"extensions": extensions}
    return statement


@dataclass(frozen=True)
class SyncResult:
    """What one :meth:`XapiForwarder.sync` did: statements sent, events still waiting, and why it stopped."""

    sent: int
    pending: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench telemetry xapi-sync --json``)."""
        return {"sent": self.sent, "pending": self.pending, "error": self.error}


class XapiForwarder:
    """Sends the store's unsent learner events to an LRS (see the module docstring).

    Args:
        config: The LRS (default: the settings'; :class:`ConfigError` when none is configured).
        store: The telemetry store (default: ``open_store()``, closed by :meth:`close`).
        transport: An ``httpx`` transport (tests of the error paths use their own).
    """

    def __init__(
        self, config: XapiConfig | None = None, *, store: TelemetryStore | None = None, transport: Any = None
    ) -> None:
        import httpx

        config = config or XapiConfig.from_settings()
        if config is None:
            raise ConfigError(
                "no learning record store is configured", field="xapi_endpoint",
                hint="set WORKBENCH_XAPI_ENDPOINT (and _USERNAME, _PASSWORD) to the LRS's xAPI URL",
            )  # fmt: skip
        self.config = config
        self._owned = store is None
        self.store = store or open_store()
        auth = (config.username, config.password or "") if config.username else None
        headers = {"X-Experience-API-Version": XAPI_VERSION}
        self._http = httpx.Client(auth=auth, headers=headers, timeout=config.timeout_s, transport=transport)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP client (and the store, when this forwarder opened it)."""
        self._http.close()
        if self._owned:
            self.store.close()

    def __enter__(self) -> XapiForwarder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def pending(self) -> int:
        """Statements not yet acknowledged by the LRS (unsent events that make one)."""
        unsent = self._unsent()
        query = sa.select(*event_columns()).where(events_table.c.seq.in_(sa.select(unsent.c.seq)))
        with self.store.connection("count unsent xAPI statements") as conn:
            return sum(statement_for(row_to_event(row), self.config) is not None for row in conn.execute(query))

    def sync(self, limit: int | None = None) -> SyncResult:
        """Send unsent statements, batch by batch, until none are left (or ``limit`` were sent) or the LRS fails.

        Never raises for the LRS: an unreachable or refusing LRS ends the sync with ``error`` set and the
        events still unsent.
        """
        sent = 0
        with self._lock:
            while limit is None or sent < limit:
                events = self._next_batch(self.config.batch_size if limit is None else min(self.config.batch_size,
                                                                                          limit - sent))  # fmt: skip
                if not events:
                    break
                error = self._send(events)
                if error is not None:
                    return SyncResult(sent, self.pending(), error)
                sent += len(events)
        return SyncResult(sent, self.pending())

    # -- steps --------------------------------------------------------------------------------------------------

    def _unsent(self) -> Any:
        sent = sa.select(xapi_sent_table.c.event_id)
        return sa.select(events_table.c.seq).where(
            events_table.c.kind.in_(list(VERBS)), events_table.c.learner.is_not(None),
            events_table.c.playbook.is_not(None), events_table.c.task.is_not(None),
            events_table.c.id.not_in(sent),
        ).subquery()  # fmt: skip

    def _next_batch(self, size: int) -> list[Event]:
        """The oldest unsent events (those that make no statement are marked sent as they are met)."""
        unsent = self._unsent()
        query = (sa.select(*event_columns()).where(events_table.c.seq.in_(sa.select(unsent.c.seq)))
                 .order_by(events_table.c.seq).limit(size))  # fmt: skip
        with self.store.connection("read unsent xAPI statements") as conn:
            events = [row_to_event(row) for row in conn.execute(query)]
        silent = [e for e in events if statement_for(e, self.config) is None]
        if silent:
            self._mark(silent)
        return [e for e in events if statement_for(e, self.config) is not None]

    def _send(self, events: Sequence[Event]) -> str | None:
        """Post one batch; mark it sent when the LRS took it. Returns why it did not, else ``None``."""
        import httpx

        statements = [s for s in (statement_for(e, self.config) for e in events) if s is not None]
        try:
            response = self._http.post(self.config.statements_url, json=statements)
        except httpx.HTTPError as exc:
            return f"the learning record store at {self.config.endpoint} is unreachable ({type(exc).__name__})"
        if response.status_code not in (200, 204):
            return f"the learning record store answered {response.status_code}: {response.text[:200]}"
        self._mark(events)
        return None

    def _mark(self, events: Sequence[Event]) -> None:
        """Mark ``events`` sent (an id another forwarder marked meanwhile is left as it is)."""
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        statement = dialect.insert(xapi_sent_table).on_conflict_do_nothing(index_elements=["event_id"])
        now = datetime.now(timezone.utc)
        with self.store.connection("mark xAPI statements sent", write=True) as conn:
            conn.execute(statement, [{"event_id": e.id, "sent_at": now} for e in events])


class _Background:
    """The process's forwarding thread: woken after each durable write, it syncs (backing off on errors)."""

    def __init__(self, config: XapiConfig) -> None:
        self.config = config
        self.wake = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="workbench-xapi", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while True:
            self.wake.wait(timeout=60.0)
            self.wake.clear()
            if self.stopped:
                return
            try:
                with XapiForwarder(self.config) as forwarder:
                    result = forwarder.sync()
            except Exception:  # a sync must never take the thread (or the notebook) down
                log.warning("xAPI forwarding failed; will retry", exc_info=True)
                result = SyncResult(0, 1, "error")
            if result.error is not None:
                log.info("xAPI: %s (%d waiting)", result.error, result.pending)
                self.wake.wait(timeout=backoff)
                backoff = min(backoff * 2, 300.0)
            else:
                backoff = 1.0


_background: _Background | None = None
_background_lock = threading.Lock()


def start_forwarding(config: XapiConfig | None = None) -> Any:
    """Start (once per process) the background thread that forwards statements; returns a ``wake()`` callable,
    or ``None`` when no LRS is configured."""
    global _background
    config = config or XapiConfig.from_settings()
    if config is None:
        return None
    with _background_lock:
        if _background is None:
            _background = _Background(config)
        return _background.wake.set


def stop_forwarding() -> None:
    """Stop the background thread (it finishes a sync in progress first). For tests and shutdown."""
    global _background
    with _background_lock:
        background, _background = _background, None
    if background is not None:
        background.stopped = True
        background.wake.set()
        background.thread.join(30)


def sync_statements(limit: int | None = None) -> SyncResult:
    """Send what the store holds unsent to the configured LRS (``workbench telemetry xapi-sync``).

    Raises:
        ConfigError: No LRS is configured.
    """
    with XapiForwarder() as forwarder:
        return forwarder.sync(limit)


def statements_of(events: Sequence[Event], config: XapiConfig | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of ``events`` (those that make one), e.g. to preview what an LRS would receive."""
    cfg = config if isinstance(config, XapiConfig) else XapiConfig(**config)
    return [s for s in (statement_for(e, cfg) for e in events) if s is not None]
