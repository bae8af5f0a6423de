"""An LMS launches a learner into a playbook through JupyterHub and LTI 1.3 (no browser: plain HTTP).

The hub runs ``extensions/jupyterhub/jupyterhub_config.py`` as shipped with ``WORKBENCH_HUB_AUTH=lti13``
(``jupyterhub-ltiauthenticator``'s ``LTI13Authenticator`` with Workbench's launch handler), the simple local
spawner and configurable-http-proxy from ``make chp``. The LMS is the one fake here (a true edge): a small
platform on 127.0.0.1 with its own RSA key, which serves its JWKS and its OIDC authorization endpoint. The test is
the learner's browser: it posts the LMS's third-party login initiation to the hub, follows the hub to the LMS's
authorization endpoint, posts the signed ``id_token`` form the LMS answers back to the hub's launch endpoint, and
follows redirects (the hub spawns the learner's server) until JupyterLab opens the playbook's notebook.

Grade passback (LTI Assignment and Grade Services): the LMS's id_token also carries the AGS claim, and the fake
LMS serves a token endpoint that verifies the tool's signed assertion and a line item's scores endpoint
(``tests/fake_lms.py``). The learner completes a task in their own kernel (Jupyter's REST and websocket APIs on
their single-user server, as JupyterLab does), then ``workbench lti passback`` runs as a subprocess with the hub's
environment, as a JupyterHub service or cron would, and the LMS receives the learner's score.

Marked ``browser`` (it runs with the hub test, in the browser tests' process) though it needs no chromium.
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
import sqlalchemy as sa
import websocket
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_lms import SCORE_SCOPE, FakeAGS
from wb_lab import ROOT, free_port, terminate

from workbench.telemetry import pseudonymize

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONFIG = ROOT / "extensions" / "jupyterhub" / "jupyterhub_config.py"
CHP = ROOT / ".npm-chp" / "node_modules" / ".bin" / "configurable-http-proxy"
CLIENT_ID = "workbench-tool-123"
DEPLOYMENT = "deployment-1"
SUB = "a7c3e2f0-learner-42"  # the platform's opaque user id: the hub user name
REAL_NAME, EMAIL = "Ana Example-Lopez", "ana.lopez@example.org"  # sent by the LMS; must not reach the hub
PB = "critique-rubrics"
SALT = "lti-test-salt"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
LINEITEM = "{lms}/lineitems/critique-week-3?resource=rl-critique-1"  # a query string, as Moodle's have


@dataclass
class FakeLMS:
    """An LTI 1.3 platform: its key, its URLs, and the authorization requests it received."""

    url: str
    key: rsa.RSAPrivateKey
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    auth_requests: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    ags: FakeAGS | None = None  # the token and scores endpoints (grade passback)

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, request: dict[str, str]) -> str:
        """The signed launch for the learner, answering one OIDC authentication request."""
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": CLIENT_ID, "sub": SUB, "iat": now, "exp": now + 300,
            "nonce": request["nonce"], "name": REAL_NAME, "email": EMAIL,
            CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": DEPLOYMENT, CLAIM + "target_link_uri": request["target_link_uri"],
            CLAIM + "resource_link": {"id": "rl-critique-1", "title": "Critique rubrics (week 3)"},
            CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            CLAIM + "context": {"id": "course-7", "label": "AI-101", "title": "Applied AI"},
            CLAIM + "custom": self.custom,
            AGS_CLAIM: {"scope": [SCORE_SCOPE], "lineitem": LINEITEM.format(lms=self.url)},
        }  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def _lms_handler(lms: FakeLMS, target_link_uri: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/jwks":
                return self._send(json.dumps(lms.jwks()), "application/json")
            if url.path != "/authorize":
                return self.send_error(404)
            request = {k: v[0] for k, v in parse_qs(url.query).items()}
            lms.auth_requests.append(request)
            token = lms.id_token({**request, "target_link_uri": target_link_uri})
            # OIDC form_post: the platform's page posts the id_token to the tool's redirect_uri.
            self._send(
                f'<form method="post" action="{request["redirect_uri"]}">'
                f'<input type="hidden" name="id_token" value="{token}">'
                f'<input type="hidden" name="state" value="{request["state"]}"></form>'
                "<script>document.forms[0].submit()</script>",
                "text/html",
            )

        def do_POST(self) -> None:
            if lms.ags is None or not lms.ags.handle_post(self):
                self.send_error(404)

    return Handler


@contextlib.contextmanager
def fake_lms(target_link_uri: str) -> Iterator[FakeLMS]:
    port = free_port()
    lms = FakeLMS(f"http://127.0.0.1:{port}", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    lms.ags = FakeAGS(lms.url, CLIENT_ID)
    server = ThreadingHTTPServer(("127.0.0.1", port), _lms_handler(lms, target_link_uri))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield lms
    finally:
        server.shutdown()
        server.server_close()


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""


@dataclass
class Hub:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    store: Path


def _tool_key(path: Path) -> rsa.RSAPublicKey:
    """The tool's RSA key, written where WORKBENCH_LTI_TOOL_KEY points; its public half is what the LMS knows."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    return key.public_key()


@pytest.fixture(scope="module")
def lti_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, FakeLMS]]:
    """The hub in LTI 1.3 mode, registered with a fake LMS; stopped (with the learner's server) afterwards."""
    if not CHP.exists():
        pytest.fail(f"{CHP.relative_to(ROOT)} is missing: run `make chp` (configurable-http-proxy from npm)")
    base = tmp_path_factory.mktemp("lti-hub")
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    with fake_lms(target_link_uri=f"{hub_url}/hub") as lms:
        assert lms.ags is not None
        lms.ags.tool_public_key = _tool_key(base / "tool.pem")  # registered in the LMS (its "tool JWKS")
        store = base / "org.db"  # the organisation's store: the hub and every learner's server and kernel
        env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_DATA_DIR", "WORKBENCH_STORE_URL")}
        env.update(
            PATH=os.pathsep.join([str(CHP.parent), str(Path(sys.executable).parent), env.get("PATH", "")]),
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            WORKBENCH_HUB_AUTH="lti13", WORKBENCH_LTI_ISSUER=lms.url, WORKBENCH_LTI_CLIENT_ID=CLIENT_ID,
            WORKBENCH_LTI_JWKS_URL=f"{lms.url}/jwks", WORKBENCH_LTI_AUTHORIZE_URL=f"{lms.url}/authorize",
            WORKBENCH_HUB_HOMES=str(base / "homes"), WORKBENCH_PSEUDONYM_SALT=SALT,
            WORKBENCH_STORE_URL=f"sqlite:///{store}", WORKBENCH_LTI_TOOL_KEY=str(base / "tool.pem"),
            WORKBENCH_LTI_TOKEN_URL=lms.ags.token_url,
            WORKBENCH_LTI_PASSBACK_EVERY="3600",  # the hub's service: one pass at start; the test runs the others
        )  # fmt: skip
        args = [
            sys.executable, "-m", "jupyterhub", "-f", str(CONFIG),
            f"--JupyterHub.bind_url={hub_url}", f"--JupyterHub.hub_port={free_port()}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
            f"--JupyterHub.db_url=sqlite:///{base / 'jupyterhub.sqlite'}",
            f"--JupyterHub.cookie_secret_file={base / 'cookie_secret'}",
            f"--ConfigurableHTTPProxy.pid_file={base / 'proxy.pid'}",
            '--Spawner.args=["--ServerApp.allow_root=True"]',
        ]  # fmt: skip
        log = base / "hub.log"
        proc = subprocess.Popen(args, env=env, cwd=base, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        hub = Hub(hub_url, proc, log, env, store)
        try:
            _wait_healthy(hub, timeout_s=120)
            yield hub, lms
        finally:
            terminate(proc)  # cleanup_servers: the hub stops the learner's server and the proxy with it


def _wait_healthy(hub: Hub, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{hub.url}/hub/health", timeout=2).status_code == 200:
                return
        if hub.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(hub.log.read_text()[-4000:])
        time.sleep(0.3)


def _launch(client: httpx.Client, hub: Hub, lms: FakeLMS) -> httpx.Response:
    """The learner's browser: login initiation, the LMS's form post, then the hub's redirects to JupyterLab."""
    page = client.post(f"{hub.url}/hub/lti13/oauth_login", data={
        "iss": lms.url, "login_hint": "opaque-login-hint", "target_link_uri": f"{hub.url}/hub",
        "lti_message_hint": "opaque-message-hint", "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT,
    })  # fmt: skip
    assert page.status_code == 200 and str(page.url).startswith(f"{lms.url}/authorize"), (page.url, page.text)
    form = _Form()
    form.feed(page.text)
    response = client.post(form.action, data=form.fields)
    deadline = time.monotonic() + 150
    # While the learner's server starts, the hub answers its spawn-pending page; the browser would wait on it.
    while "/hub/spawn-pending/" in response.url.path and time.monotonic() < deadline:
        time.sleep(1)
        response = client.get(response.url)
    return response


def test_an_lms_launch_signs_the_learner_in_and_opens_the_playbook(lti_hub: tuple[Hub, FakeLMS]) -> None:
    hub, lms = lti_hub
    lms.custom = {"playbook": PB}
    started = time.monotonic()
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        lab = _launch(client, hub, lms)
        launch_s = time.monotonic() - started
        # The hub sent a correct OIDC authentication request to the platform.
        request = lms.auth_requests[-1]
        assert {k: request[k] for k in ("response_type", "scope", "response_mode", "prompt", "client_id")} == {
            "response_type": "id_token", "scope": "openid", "response_mode": "form_post", "prompt": "none",
            "client_id": CLIENT_ID}  # fmt: skip
        assert request["login_hint"] == "opaque-login-hint" and request["lti_message_hint"] == "opaque-message-hint"
        # The learner is the hub user named by the opaque `sub`, and lands in JupyterLab on the playbook's notebook.
        user = SUB.lower()
        assert lab.status_code == 200, (lab.url, lab.text[-2000:])
        assert lab.url.path.startswith(f"/user/{user}/lab/tree/"), lab.url
        notebook = lab.url.path.removeprefix(f"/user/{user}/lab/tree/")
        assert PB in notebook and notebook.endswith(".ipynb"), notebook
        # The notebook was materialised in the learner's workspace, with Workbench loaded in their server.
        api = f"{hub.url}/user/{user}/workbench/api"
        progress = client.get(f"{api}/playbooks/{PB}/progress").json()
        assert progress["workspace"]["started"] and progress["workspace"]["path"] == notebook, progress
        me = client.get(f"{api}/me").json()
        assert me["per_user"] and me["learner"] == pseudonymize(user, salt=SALT), me  # the hub user, pseudonymised
        # A second launch from the LMS resumes the same notebook (no new workspace), the server already up.
        again = time.monotonic()
        assert _launch(client, hub, lms).url.path == lab.url.path
        relaunch_s = time.monotonic() - again
        # An unknown playbook in the LMS's link is an error page naming it, not a traceback.
        lms.custom = {"playbook": "no-such-playbook"}
        bad = _launch(client, hub, lms)
        assert bad.status_code == 404 and "no-such-playbook" in bad.text, (bad.status_code, bad.text[-1500:])
    # No real name or address reached the hub: not its user names (its database), not its log.
    engine = sa.create_engine(f"sqlite:///{hub.log.parent / 'jupyterhub.sqlite'}")
    with engine.connect() as conn:
        users = [row[0] for row in conn.exec_driver_sql("SELECT name FROM users")]
    engine.dispose()
    assert users == [user], users
    log = hub.log.read_text()
    assert REAL_NAME not in log and EMAIL not in log
    print(f"LTI launch to JupyterLab (server spawned): {launch_s:.1f} s; relaunch: {relaunch_s:.1f} s")


READ_RUBRIC = """from workbench.playbooks import task
from workbench.rubrics import load_rubric
with task("read-rubric"):
    rubric = load_rubric("rag-faithfulness")
print("done:", len(rubric.criteria))"""


def _run_in_kernel(client: httpx.Client, server: str, codes: list[str]) -> list[str]:
    """Run ``codes`` in a new kernel of the learner's server (Jupyter's REST + websocket APIs, the learner's hub
    login: cookies and XSRF as JupyterLab sends them); returns each cell's stdout. The kernel is shut down."""
    path = urlparse(server).path + "/"
    mine = [c for c in client.cookies.jar if path.startswith(c.path)]  # as a browser sends them to this path
    mine.sort(key=lambda c: -len(c.path))  # the most specific first, as a browser orders them
    xsrf = {"X-XSRFToken": next(c.value for c in mine if c.name == "_xsrf")}
    kernel = client.post(f"{server}/api/kernels", json={"name": "python3"}, headers=xsrf)
    assert kernel.status_code == 201, (kernel.status_code, kernel.text)
    kernel_id = kernel.json()["id"]
    cookie = "; ".join(f"{c.name}={c.value}" for c in mine)
    channels = f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"
    ws_url = server.replace("http://", "ws://") + channels
    outputs = []
    ws = websocket.create_connection(ws_url, cookie=cookie, timeout=120)
    try:
        for code in codes:
            outputs.append(_execute(ws, code))
    finally:
        ws.close()
        client.delete(f"{server}/api/kernels/{kernel_id}", headers=xsrf)
    return outputs


def _execute(ws: Any, code: str) -> str:
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))  # fmt: skip
    out = []
    while True:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        elif kind == "execute_reply":
            assert content["status"] == "ok", content
            return "".join(out)


def _wait_for_service_pass(hub: Hub) -> None:
    """The hub's managed passback service made its first pass (before any task: nothing sent); the next is an
    hour away (WORKBENCH_LTI_PASSBACK_EVERY), so the passes below are the test's own."""
    deadline = time.monotonic() + 60
    pattern = re.compile(r"^sent 0, unchanged 0, no score yet \d+, failed 0$", re.M)
    while not pattern.search(hub.log.read_text()):
        assert time.monotonic() < deadline, hub.log.read_text()[-3000:]
        time.sleep(0.3)
    assert "Starting managed service workbench-lti-passback" in hub.log.read_text()


def _passback(hub: Hub) -> dict[str, Any]:
    """``workbench lti passback --json`` as the hub's service or cron runs it: the hub's environment."""
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "lti", "passback", "--json"], env=hub.env,
                          cwd=hub.log.parent, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_learner_s_playbook_score_goes_back_to_the_lms(lti_hub: tuple[Hub, FakeLMS]) -> None:
    hub, lms = lti_hub
    assert lms.ags is not None
    # The hub serves the tool's public key set, which is what the LMS was given (its "tool JWKS" URL).
    [jwk] = httpx.get(f"{hub.url}/hub/lti13/jwks", timeout=10).json()["keys"]
    registered = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(lms.ags.tool_public_key))
    assert (jwk["n"], jwk["e"], jwk["alg"], "d" in jwk) == (registered["n"], registered["e"], "RS256", False)
    lms.custom = {"playbook": PB}
    user = SUB.lower()
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        lab = _launch(client, hub, lms)  # the launch keeps the AGS link (line item, sub) on the hub's side
        assert lab.status_code == 200 and lab.url.path.startswith(f"/user/{user}/lab/tree/"), lab.url
        notebook = lab.url.path.removeprefix(f"/user/{user}/lab/tree/")
        server = f"{hub.url}/user/{user}"
        _wait_for_service_pass(hub)
        assert _passback(hub)["sent"] == 0 and lms.ags.scores == []  # no task done yet: nothing to send
        # The learner runs the notebook's injected-parameters cell, then completes the first task, in a kernel.
        cells = client.get(f"{server}/api/contents/{notebook}").json()["content"]["cells"]
        injected = next(c["source"] for c in cells if "injected-parameters" in c["metadata"].get("tags", []))
        started = time.monotonic()
        outputs = _run_in_kernel(client, server, [injected, READ_RUBRIC])
        assert "done:" in outputs[-1], outputs
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the kernel's recorder writes within about a second
            progress = client.get(f"{server}/workbench/api/playbooks/{PB}/progress").json()
            if progress["completed"] == 1:
                break
            time.sleep(0.5)
        assert progress["completed"] == 1, progress
        task_s = time.monotonic() - started
    # The passback, as the hub's service runs it: the LMS gets the learner's score, with the platform's sub.
    started = time.monotonic()
    result = _passback(hub)
    passback_s = time.monotonic() - started
    assert (result["sent"], result["failed"]) == (1, 0), result
    [score] = lms.ags.scores
    assert (score["lineitem"], score["query"]) == ("/lineitems/critique-week-3", "resource=rl-critique-1")
    body = score["body"]
    assert {k: body[k] for k in body if k != "timestamp"} == {
        "userId": SUB, "scoreGiven": 1.0, "scoreMaximum": 5.0,
        "activityProgress": "InProgress", "gradingProgress": "Pending"}  # fmt: skip
    assert lms.ags.refusals == [] and len(lms.ags.token_requests) == 1
    # Run again (the service's next tick): unchanged, not sent again.
    assert _passback(hub)["unchanged"] >= 1 and len(lms.ags.scores) == 1
    # The organisation's store holds the link with the sub and the pseudonym, never the name or the address.
    raw = b"".join(p.read_bytes() for p in hub.store.parent.glob(hub.store.name + "*"))
    assert REAL_NAME.encode() not in raw and EMAIL.encode() not in raw
    assert pseudonymize(user, salt=SALT).encode() in raw
    print(f"task in the learner's kernel (with its start): {task_s:.1f} s; passback: {passback_s:.1f} s")
