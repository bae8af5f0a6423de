"""The grade-passback side of a fake LTI 1.3 platform: a fake at the network edge, not a mock of our code.

:class:`FakeAGS` serves the platform's OAuth2 token endpoint (``POST /token``), which VERIFIES the tool's
client-credentials assertion (RS256 against the tool's public key, ``iss`` = ``sub`` = the client id, ``aud`` =
the token URL, ``exp``, a ``jti`` never seen before, the grant and assertion types, the score scope), and line item
score endpoints (``POST /lineitems/<id>/scores``, any query string allowed after the path), which check the bearer
token and the content type and record each score. ``down`` makes both answer 503 (an LMS outage).

Used by ``tests/playbooks/test_lti_ags.py`` on its own server (:func:`start_ags`) and by the hub test
``tests/browser/test_workbench_lti.py`` inside its fake LMS (:meth:`FakeAGS.handle_post`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class FakeAGS:
    """The platform's token and score endpoints; ``tool_public_key`` is what the tool registered (its JWKS)."""

    url: str
    client_id: str
    tool_public_key: Any = None
    down: bool = False
    scores: list[dict[str, Any]] = field(default_factory=list)  # {"lineitem", "query", "body"}
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)
    _jtis: set[str] = field(default_factory=set)

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def lineitem(self, name: str, query: str = "") -> str:
        return f"{self.url}/lineitems/{name}" + (f"?{query}" if query else "")

    def handle_post(self, handler: BaseHTTPRequestHandler) -> bool:
        """Answer a POST to ``/token`` or ``/lineitems/<id>/scores``; ``False`` for any other path."""
        url = urlparse(handler.path)
        if url.path != "/token" and not (url.path.startswith("/lineitems/") and url.path.endswith("/scores")):
            return False
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
        if self.down:
            _send(handler, 503, {"error": "maintenance"})
        elif url.path == "/token":
            self._token(handler, body)
        else:
            self._score(handler, url.path, url.query, body)
        return True

    def _refuse(self, handler: BaseHTTPRequestHandler, status: int, why: str) -> None:
        self.refusals.append(why)
        _send(handler, status, {"error": why})

    def _token(self, handler: BaseHTTPRequestHandler, body: str) -> None:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        self.token_requests.append(form)
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != ASSERTION_TYPE
        ):
            return self._refuse(handler, 400, "unsupported_grant_type")
        if form.get("scope") != SCORE_SCOPE:
            return self._refuse(handler, 400, "invalid_scope")
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""), self.tool_public_key, algorithms=["RS256"],
                audience=self.token_url, issuer=self.client_id, options={"require": ["exp", "iat", "jti", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            return self._refuse(handler, 401, f"invalid_client: {exc}")
        if claims["sub"] != self.client_id or claims["jti"] in self._jtis:
            return self._refuse(handler, 401, "invalid_client: sub or replayed jti")
        self._jtis.add(claims["jti"])
        token = secrets.token_urlsafe(16)
        self._tokens.add(token)
        _send(
            handler,
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": SCORE_SCOPE},
        )

    def _score(self, handler: BaseHTTPRequestHandler, path: str, query: str, body: str) -> None:
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self._tokens:
            return self._refuse(handler, 401, "bad bearer token")
        if handler.headers.get("Content-Type") != SCORE_TYPE:
            return self._refuse(handler, 415, f"content type {handler.headers.get('Content-Type')}")
        lineitem = path.removesuffix("/scores")
        self.scores.append({"lineitem": lineitem, "query": query, "body": json.loads(body)})
        _send(handler, 204, None)


def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    handler.send_response(status)
    if body is not None:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextlib.contextmanager
def start_ags(client_id: str, tool_public_key: Any) -> Iterator[FakeAGS]:
    """A :class:`FakeAGS` on its own ThreadingHTTPServer on 127.0.0.1 (a free port), stopped afterwards."""
    holder: list[FakeAGS] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            if not holder[0].handle_post(self):
                self.send_error(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(FakeAGS(f"http://127.0.0.1:{server.server_address[1]}", client_id, tool_public_key))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
