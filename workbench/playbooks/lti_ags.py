"""LTI 1.3 Assignment and Grade Services (AGS): playbook scores go back to the LMS that launched the learner.

Two halves, both on the hub (the tool's private key lets its holder post any learner's grade, so it never goes
to learners' servers, which learners control):

- **on a launch** (:func:`link_from_launch`, :func:`remember_launch`, called by
  :class:`workbench.server.lti.WorkbenchLTI13CallbackHandler`): a launch that carries the AGS claim
  (``https://purl.imsglobal.org/spec/lti-ags/claim/endpoint``) with a ``lineitem`` and the score scope, and names
  a playbook, is kept as one row of ``lti_links`` in the organisation's store: the line item URL and scopes, the
  platform's issuer, client id and deployment id, the learner's ``sub`` (the platform's opaque user id: the
  score's ``userId``), the learner's pseudonym (what their events carry) and the playbook id. Nothing else of
  the id_token: no name, no e-mail address.
- **the passback** (:func:`pass_back_grades`, ``workbench lti passback``, run by a JupyterHub managed service or
  cron on the hub): for each kept link, the learner's playbook score (:func:`playbook_score`) read from the
  store; when it differs from what the link last sent, an OAuth2 access token from the platform's token
  endpoint (client credentials with an RS256 JWT assertion signed by the tool's key, scope
  ``.../scope/score``) and a ``POST <lineitem>/scores`` of ``application/vnd.ims.lis.v1.score+json``. What was
  sent is recorded on the link, so an unchanged score is not sent again; a failure (the LMS unreachable, a 5xx,
  a refused token) is recorded as the link's ``error`` and the score goes with the next pass: the store is the
  queue, as for the xAPI export (:mod:`workbench.telemetry.xapi`). Learners' notebooks never wait on the LMS:
  nothing here runs in their servers.

Why the store and not the hub's ``auth_state``: the passback reads the learners' events from the store anyway,
so keeping the links beside them makes one place to back up, migrate (Alembic revision ``0004``) and erase
(``workbench telemetry erase`` deletes a learner's links with their events); ``auth_state`` would need
``JUPYTERHUB_CRYPT_KEY``, the whole id_token (names included) stored by the authenticator, and a service token
with ``admin:auth_state`` to read it back, and it keeps only the latest launch per user, not one per line item.

**The playbook's score** (:func:`playbook_score`, from :func:`workbench.playbooks.progress.learner_progress`, the
same progress the sidebar shows): each task of the manifest earns its latest overall rubric score (0 to 1) when
it is completed and graded, 1 when completed without a grade, 0 otherwise; ``scoreGiven`` is the sum and
``scoreMaximum`` the number of tasks. ``activityProgress`` is ``Completed`` and ``gradingProgress``
``FullyGraded`` once every task is completed, else ``InProgress`` and ``Pending``. A learner with no task event
in the playbook yet has no score, and nothing is sent.

Configuration (the hub's environment): ``WORKBENCH_LTI_TOOL_KEY`` (path to the tool's RSA private key, PEM),
``WORKBENCH_LTI_TOKEN_URL`` (the platform's OAuth2 token endpoint), ``WORKBENCH_LTI_ISSUER`` (only links of that
platform are sent), ``WORKBENCH_STORE_URL``. ``workbench lti jwks`` prints the tool's public key set to register
in the LMS; the hub also serves it at ``/hub/lti13/jwks``.

Why here (orchestration, beside :mod:`workbench.playbooks.progress`) and not in ``workbench.telemetry`` with the
xAPI exporter: the score is playbook progress, which the record layer may not import; and both edges that use it
(the CLI and the hub's launch handler in :mod:`workbench.server.lti`) may import it, not each other. The queueing
follows the xAPI exporter's pattern (the store holds what is still to send; an error leaves it there) rather than
its code: xAPI sends each event once, AGS sends a learner's current score whenever it changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from workbench.errors import ConfigError, WorkbenchError
from workbench.telemetry.schema import lti_links_table
from workbench.telemetry.store import TelemetryStore, open_store

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_LTI = "https://purl.imsglobal.org/spec/lti/claim/"
KEY_VAR = "WORKBENCH_LTI_TOOL_KEY"
TOKEN_URL_VAR = "WORKBENCH_LTI_TOKEN_URL"


# -- on a launch -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LtiLink:
    """One learner's LMS line item for one playbook (a row of ``lti_links``; no name, no e-mail)."""

    learner: str
    sub: str
    playbook: str
    issuer: str
    client_id: str
    deployment_id: str
    lineitem: str
    scopes: tuple[str, ...]

    @property
    def key(self) -> str:
        """The row's key: a hash of the platform, the line item and the learner."""
        parts = (self.issuer, self.client_id, self.deployment_id, self.lineitem, self.sub)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def link_from_launch(id_token: Mapping[str, Any], playbook: str | None, learner: str) -> LtiLink | None:
    """The link to keep for a verified launch, or ``None`` when it cannot take a score back.

    Args:
        id_token: The platform's verified id_token (only the claims named in the module docstring are read).
        playbook: The playbook the launch opens.
        learner: The learner's pseudonym (:func:`workbench.telemetry.pseudonymize` of the hub user name).
    """
    ags = id_token.get(AGS_CLAIM)
    if not playbook or not isinstance(ags, Mapping) or not ags.get("lineitem"):
        return None
    scopes = tuple(str(s) for s in ags.get("scope") or ())
    if SCORE_SCOPE not in scopes:
        return None
    aud = id_token.get("aud")
    client_id = id_token.get("azp") or (aud[0] if isinstance(aud, list) and aud else aud)
    return LtiLink(
        learner=learner, sub=str(id_token["sub"]), playbook=playbook, issuer=str(id_token["iss"]),
        client_id=str(client_id), deployment_id=str(id_token.get(_LTI + "deployment_id") or ""),
        lineitem=str(ags["lineitem"]), scopes=scopes,
    )  # fmt: skip


def remember_launch(link: LtiLink, store: TelemetryStore | None = None) -> None:
    """Keep ``link`` in the store (a relaunch refreshes it and keeps what was sent)."""
    from sqlalchemy.dialects import postgresql, sqlite

    owned = store is None
    store = store or open_store()
    try:
        dialect = postgresql if store.dialect == "postgresql" else sqlite
        values = {
            "key": link.key, "learner": link.learner, "sub": link.sub, "playbook": link.playbook,
            "issuer": link.issuer, "client_id": link.client_id, "deployment_id": link.deployment_id,
            "lineitem": link.lineitem, "scopes": " ".join(link.scopes), "launched_at": datetime.now(timezone.utc),
        }  # fmt: skip
        fresh = ("learner", "playbook", "scopes", "launched_at")
        statement = dialect.insert(lti_links_table).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={name: statement.excluded[name] for name in fresh}
        )
        with store.connection("keep an LTI link", write=True) as conn:
            conn.execute(statement)
    finally:
        if owned:
            store.close()


# -- the tool's key ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolKey:
    """The tool's RSA private key and its key id (the RFC 7638 thumbprint of the public key)."""

    private_key: Any
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kid``, ``alg`` RS256, ``use`` sig)."""
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        """The public key set to register in the LMS (its "tool JWKS")."""
        return {"keys": [self.public_jwk()]}


def load_tool_key(environ: Mapping[str, str] | None = None) -> ToolKey:
    """The tool's key from the PEM file at ``WORKBENCH_LTI_TOOL_KEY``.

    Raises:
        ConfigError: The variable is unset, the file is missing, or it holds no RSA private key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    environ = os.environ if environ is None else environ
    hint = (f"set {KEY_VAR} to the path of the tool's RSA private key (PEM), e.g. made with `openssl genpkey "
            "-algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tool.pem`")  # fmt: skip
    path = environ.get(KEY_VAR, "").strip()
    if not path:
        raise ConfigError(f"{KEY_VAR} is not set", field=KEY_VAR, hint=hint)
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{KEY_VAR}={path} cannot be read ({exc.strerror})", field=KEY_VAR, hint=hint
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{KEY_VAR}={path} is not an unencrypted PEM private key ({exc})", field=KEY_VAR,
                          hint=hint) from None  # fmt: skip
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{KEY_VAR}={path} is not an RSA key (LTI 1.3 signs with RS256)", field=KEY_VAR,
                          hint=hint)  # fmt: skip
    return ToolKey(key, _thumbprint(key.public_key()))


def _thumbprint(public_key: Any) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a key id that follows the key."""
    import base64

    from jwt.algorithms import RSAAlgorithm

    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class PassbackConfig:
    """Where and how scores go: the tool's key, the platform's token endpoint and issuer."""

    key: ToolKey
    token_url: str
    issuer: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> PassbackConfig:
        """The configuration in ``WORKBENCH_LTI_*`` (see the module docstring).

        Raises:
            ConfigError: A variable is missing or wrong, named in the message.
        """
        environ = os.environ if environ is None else environ
        key = load_tool_key(environ)
        token_url = environ.get(TOKEN_URL_VAR, "").strip()
        if not token_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"{TOKEN_URL_VAR} is not set" if not token_url else f"{TOKEN_URL_VAR}={token_url} is not a URL",
                field=TOKEN_URL_VAR, hint=f"set {TOKEN_URL_VAR} to the platform's OAuth2 token endpoint, e.g. "
                "https://sso.canvaslms.com/login/oauth2/token",
            )  # fmt: skip
        return cls(key, token_url, environ.get("WORKBENCH_LTI_ISSUER", "").strip() or None)


# -- the score ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A playbook's score as AGS carries it (see the module docstring for how it is made)."""

    given: float
    maximum: float
    activity: str
    grading: str

    def signature(self) -> str:
        """What identifies a sent score (its timestamp aside): an equal signature is not sent again."""
        return json.dumps([self.given, self.maximum, self.activity, self.grading])

    def payload(self, sub: str, when: datetime) -> dict[str, Any]:
        """The ``application/vnd.ims.lis.v1.score+json`` body for the learner ``sub``."""
        return {
            "userId": sub, "scoreGiven": self.given, "scoreMaximum": self.maximum,
            "activityProgress": self.activity, "gradingProgress": self.grading,
            "timestamp": when.astimezone(timezone.utc).isoformat(timespec="milliseconds"),
        }  # fmt: skip


def playbook_score(learner: str, playbook: str, store: TelemetryStore) -> Score | None:
    """The learner's score in ``playbook`` from the store's events; ``None`` before their first task event
    (also for a playbook unknown here: a launch naming a wrong id, which its learner never worked in)."""
    from workbench.playbooks.progress import learner_progress

    if not store.count(learner=learner, playbook=playbook):
        return None
    progress = learner_progress(learner, playbook=playbook, store=store)[0]
    if not progress.tasks or all(t.status == "not_started" for t in progress.tasks):
        return None
    credit = sum((t.score if t.score is not None else 1.0) for t in progress.tasks if t.status == "completed")
    done = progress.done
    return Score(round(float(credit), 4), float(len(progress.tasks)), "Completed" if done else "InProgress",
                 "FullyGraded" if done else "Pending")  # fmt: skip


# -- the passback ------------------------------------------------------------------------------------------------


@dataclass
class PassbackResult:
    """What one pass did, link by link counted: sent, unchanged (already sent), waiting (no score yet), failed."""

    sent: int = 0
    unchanged: int = 0
    waiting: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench lti passback --json``)."""
        return {"sent": self.sent, "unchanged": self.unchanged, "waiting": self.waiting, "failed": self.failed,
                "errors": self.errors}  # fmt: skip


def scores_url(lineitem: str) -> str:
    """``<lineitem>/scores``, with ``/scores`` in the path when the line item URL has a query string."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class _Refused(Exception):
    """The platform refused or could not be reached; the message says which (kept on the link)."""


class GradePassback:
    """Sends each kept link's changed score to its LMS (see the module docstring).

    Args:
        config: The tool's key and the platform's token endpoint.
        store: The store (default: ``open_store()``, closed by :meth:`close`).
        transport: An ``httpx`` transport (tests of the error paths may pass their own).
    """

    def __init__(self, config: PassbackConfig, *, store: TelemetryStore | None = None, transport: Any = None):
        import httpx

        self.config = config
        self._owned = store is None
        self.store = store or open_store()
        self._http = httpx.Client(timeout=config.timeout_s, transport=transport)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        """Close the HTTP client (and the store, when this object opened it)."""
        self._http.close()
        if self._owned:
            self.store.close()

    def __enter__(self) -> GradePassback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self) -> PassbackResult:
        """One pass over every kept link. Never raises for an LMS: failures are recorded and counted."""
        result = PassbackResult()
        for row in self._links():
            self._pass_one(row, result)
        return result

    def _links(self) -> list[sa.Row[Any]]:
        query = sa.select(lti_links_table).order_by(lti_links_table.c.launched_at)
        with self.store.connection("read LTI links") as conn:
            return list(conn.execute(query))

    def _pass_one(self, row: sa.Row[Any], result: PassbackResult) -> None:
        try:
            score = playbook_score(row.learner, row.playbook, self.store)
        except WorkbenchError as exc:  # e.g. the playbook is no longer installed
            return self._failed(row, result, f"no score for playbook {row.playbook}: {exc.message}")
        if score is None:
            result.waiting += 1
            return None
        if score.signature() == row.sent:
            result.unchanged += 1
            return None
        try:
            self._send(row, score)
        except _Refused as exc:
            return self._failed(row, result, str(exc))
        now = datetime.now(timezone.utc)
        self._update(row.key, sent=score.signature(), sent_at=now, error=None, attempted_at=now)
        result.sent += 1
        return None

    def _failed(self, row: sa.Row[Any], result: PassbackResult, error: str) -> None:
        self._update(row.key, error=error[:1000], attempted_at=datetime.now(timezone.utc))
        result.failed += 1
        result.errors.append(f"{row.playbook} ({row.key[:12]}): {error}")

    def _update(self, key: str, **values: Any) -> None:
        statement = lti_links_table.update().where(lti_links_table.c.key == key).values(**values)
        with self.store.connection("record an LTI score", write=True) as conn:
            conn.execute(statement)

    def _send(self, row: sa.Row[Any], score: Score) -> None:
        import httpx

        if self.config.issuer and row.issuer != self.config.issuer:
            raise _Refused(f"the link's platform {row.issuer} is not the configured WORKBENCH_LTI_ISSUER")
        token = self._token(row.client_id)
        body = json.dumps(score.payload(row.sub, datetime.now(timezone.utc)))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": SCORE_CONTENT_TYPE}
        url = scores_url(row.lineitem)
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _Refused(f"the LMS at {url} is unreachable ({type(exc).__name__})") from None
        if response.status_code == 401:  # an expired token: a fresh one goes with the next pass
            self._tokens.pop(row.client_id, None)
        if not 200 <= response.status_code < 300:
            raise _Refused(f"the LMS answered {response.status_code} to the score: {response.text[:200]}")

    def _token(self, client_id: str) -> str:
        """An access token for ``client_id`` (one per pass and client: platforms grant them for an hour)."""
        import httpx
        import jwt

        if client_id in self._tokens:
            return self._tokens[client_id]
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": self.config.token_url, "iat": now, "exp": now + 300,
                  "jti": uuid.uuid4().hex}  # fmt: skip
        assertion = jwt.encode(claims, self.config.key.private_key, algorithm="RS256",
                               headers={"kid": self.config.key.kid})  # fmt: skip
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion, "scope": SCORE_SCOPE}  # fmt: skip
        try:
            response = self._http.post(self.config.token_url, data=form)
        except httpx.HTTPError as exc:
            raise _Refused(
                f"the token endpoint {self.config.token_url} is unreachable ({type(exc).__name__})"
            ) from None
        token = response.json().get("access_token") if _is_json(response) else None
        if response.status_code != 200 or not token:
            raise _Refused(
                f"the token endpoint refused the tool ({response.status_code}): {response.text[:200]}"
            )
        self._tokens[client_id] = str(token)
        return str(token)


def _is_json(response: Any) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def pass_back_grades(
    environ: Mapping[str, str] | None = None, *, store: TelemetryStore | None = None
) -> PassbackResult:
    """One passback over every kept link with the configuration in ``environ`` (``workbench lti passback``).

    Raises:
        ConfigError: The tool's key or the token endpoint is not configured (the message names the variable).
    """
    config = PassbackConfig.from_environ(environ)
    with GradePassback(config, store=store) as passback:
        return passback.run()


def run_passback_service(
    every_s: float, environ: Mapping[str, str] | None = None, *, passes: int | None = None, report: Any = None
) -> int:
    """Pass back every ``every_s`` seconds, for ever (``passes`` for tests): a JupyterHub managed service.

    The configuration is checked once, at start (a wrong key stops the service with the variable's name). A
    pass that fails on the store (a database restart) is reported and retried at the next tick, like an LMS
    failure. ``report`` receives each :class:`PassbackResult` (the CLI prints it). Returns the passes run.
    """
    config = PassbackConfig.from_environ(environ)
    done = 0
    while passes is None or done < passes:
        if done:
            time.sleep(every_s)
        try:
            with GradePassback(config) as passback:
                result = passback.run()
        except WorkbenchError as exc:  # the store is unreachable: the scores wait in it for the next tick
            result = PassbackResult(failed=1, errors=[f"the store cannot be read: {exc.message}"])
        if report is not None:
            report(result)
        done += 1
    return done
