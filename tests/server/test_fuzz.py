"""Fuzzing every REST route with what a careless or hostile client can send: never a 500, never a server path.

Hypothesis generates ids (long, malformed, percent-encoded bytes that are not UTF-8), query strings, methods and
bodies (random bytes, invalid UTF-8, deep nesting, bodies over the 1 MiB limit, JSON objects with odd
parameters) against a real Jupyter server (:mod:`wb_server_helpers`). Each answer must be below 500, JSON, and
free of absolute server paths. The run is bounded: :data:`EXAMPLES` per route, no deadline, no example database,
derandomised so a failure reproduces.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wb_server_helpers import ROOT, Server

from workbench.server.safety import MAX_BODY_BYTES

PB = "prompting-fundamentals"
#: Generated requests per route.
EXAMPLES = 30
ID = "{id}"
#: (method, path template, query keys the route reads).
ROUTES: list[tuple[str, str, tuple[str, ...]]] = [
    ("GET", "/workbench/api/me", ()),
    ("GET", "/workbench/api/catalog", ("skill", "role")),
    ("POST", f"/workbench/api/playbooks/{ID}/start", ()),
    ("GET", f"/workbench/api/playbooks/{ID}/progress", ("learner",)),
    ("GET", "/workbench/api/progress", ("learner",)),
    ("GET", "/workbench/api/skills", ("learner",)),
    ("GET", "/workbench/api/path", ("learner",)),
    ("GET", "/workbench/api/report", ("team", "role")),
    ("GET", "/workbench/api/report/evidence", ("team", "skill", "role", "limit")),
]
_ABSOLUTE = re.compile(r"(?<![\w.%-])/(?:tmp|work|home|usr|opt|var|root|etc|proc|srv|mnt)/")

# -- strategies ---------------------------------------------------------------------------------------------
_long = st.integers(min_value=201, max_value=6000).map(lambda n: "a" * n)
_tricky = st.sampled_from([PB, "", ".", "..", "a" * 5000, "con", "NUL", "x.yaml", "playbooks", "all",
                           "prompting", "~", "%", "\x00", "a\nb", "/etc/passwd", "../../etc/passwd", "ü" * 300])
_text_value = st.one_of(_tricky, _long, st.text(max_size=40))
#: A percent-encoded URL piece: encoded text, or raw bytes (often not UTF-8).
_url_piece = st.one_of(
    _text_value.map(lambda t: quote(t, safe="")),
    st.binary(min_size=1, max_size=30).map(lambda b: "".join(f"%{x:02x}" for x in b)),
)
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
                       _long)
_json = st.recursive(_json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                     max_leaves=12)
_param_names = st.one_of(st.sampled_from(["max_new_tokens", "temperature", "model_name", "learner", "nope"]),
                         st.text(max_size=20))
_bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    st.sampled_from([b'{"parameters": "\xff\xfe"}', b"\xff\xfe{}", b'{"parameters": {"a": NaN}}',
                     b'{"parameters": {"temperature": 1e999}}', b"{" * 5000, b'{"a": ' + b"9" * 5000 + b"}"]),
    st.integers(min_value=33, max_value=200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=MAX_BODY_BYTES + 1, max_value=3 * MAX_BODY_BYTES).map(lambda n: b"{" + b" " * n + b"}"),
    _json.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(_param_names, _json, max_size=4).map(lambda p: json.dumps({"parameters": p}).encode()),
)


@st.composite
def requests(draw: st.DrawFn, method: str, template: str, keys: tuple[str, ...]) -> tuple[str, str, bytes, str]:
    """(method, URL path with query, body, token) for one generated request."""
    path = template.replace(ID, draw(_url_piece)) if ID in template else template
    names = st.one_of(st.sampled_from(keys or ("x",)), st.text(min_size=1, max_size=10).map(quote))
    query = draw(st.lists(st.tuples(names, _url_piece), max_size=4))
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query)
    verb = draw(st.one_of(st.just(method), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])))
    body = draw(_bodies) if verb in ("POST", "PUT", "PATCH") else draw(st.one_of(st.just(b""), _bodies))
    token = draw(st.sampled_from(["tok-ana", "tok-boss"]))
    return verb, path, body, token


# -- checks -------------------------------------------------------------------------------------------------
def _server_paths(server: Server) -> list[str]:
    paths = {str(ROOT), str(server.root), str(server.data_dir), str(server.root.parent), sys.prefix,
             tempfile.gettempdir() + "/"}  # fmt: skip
    return sorted(p for p in paths if len(p) > 1)


def check_answer(server: Server, method: str, path: str, response: httpx.Response) -> None:
    """Below 500, JSON (errors with error/message/hint), and no absolute server path anywhere in it."""
    where = f"{method} {path[:120]} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    text = response.text
    for leaked in _server_paths(server):
        assert leaked not in text, f"server path {leaked!r} in {where}"
    assert not _ABSOLUTE.search(text), f"absolute path in {where}"
    if method == "HEAD" or response.status_code in (204, 304):
        return
    body = response.json()
    if response.status_code >= 400:
        assert {"error", "message", "hint"} <= set(body), where


@pytest.fixture(scope="module")
def counter() -> dict[str, Any]:
    return {"requests": 0, "started": time.monotonic()}


@pytest.mark.parametrize(("method", "template", "keys"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES])
def test_fuzzed_requests_get_4xx_json_without_server_paths(
    team_server: Server, counter: dict[str, Any], method: str, template: str, keys: tuple[str, ...]
) -> None:
    clients = {token: team_server.client(token) for token in ("tok-ana", "tok-boss")}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(requests(method, template, keys))
    def fuzz(request: tuple[str, str, bytes, str]) -> None:
        verb, path, body, token = request
        response = clients[token].request(verb, httpx.URL(team_server.url + path), content=body or None)
        counter["requests"] += 1
        check_answer(team_server, verb, path, response)

    try:
        fuzz()
    finally:
        for client in clients.values():
            client.close()


@pytest.mark.parametrize(("method", "template", "keys"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES])
def test_the_reported_attacks_get_4xx(team_server: Server, method: str, template: str, keys: tuple[str, ...]) -> None:
    """The issue's cases on every route: a 5,000-character id, invalid UTF-8, 100,000 nested arrays, 10 MB."""
    long_id = "a" * 5000
    path = template.replace(ID, long_id)
    with team_server.client("tok-boss") as boss:
        cases = [(path + "".join(f"{'&' if i else '?'}{k}={long_id}" for i, k in enumerate(keys)), b"")]
        for body in (b'{"parameters": "\xff"}', b"[" * 100_000 + b"]" * 100_000, b"{" + b" " * 10_000_000 + b"}"):
            cases.append((template.replace(ID, PB), body))
        for url, body in cases:
            response = boss.request(method, url, content=body or None)
            check_answer(team_server, method, url, response)
            if len(body) > MAX_BODY_BYTES:
                assert response.status_code == 413 and response.json()["error"] == "body_too_large"
            elif body and method == "POST":
                assert response.status_code == 400 and response.json()["error"] == "bad_json"
        if ID in template:
            assert boss.request(method, path).status_code == 404


def test_errors_and_reports_name_files_relative_to_their_folder(team_server: Server) -> None:
    with team_server.client("tok-ben") as ben, team_server.client("tok-boss") as boss:  # ben: not fuzzed
        bad = ben.post(f"/workbench/api/playbooks/{PB}/start", json={"parameters": {"max_new_tokens": "many"}})
        assert bad.status_code == 400
        assert bad.json()["file"] == f"{PB}/playbook.yaml", bad.text
        for response in (ben.get("/workbench/api/skills"), boss.get("/workbench/api/report")):
            assert response.status_code == 200
            assert response.json()["summary"]["taxonomy"]["source"] == "skills/genai-copilot.yaml"
            check_answer(team_server, "GET", str(response.url), response)


def test_fuzz_figures(counter: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """Report how many generated requests ran (after the fuzz tests of this module)."""
    with capsys.disabled():
        print(f"\nserver fuzz: {len(ROUTES)} routes x {EXAMPLES} examples = {counter['requests']} requests "
              f"in {time.monotonic() - counter['started']:.1f} s")
