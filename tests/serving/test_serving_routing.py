"""Serving a registered copilot: its GA version, a canary for a share of the traffic, pinned versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from serving_helpers import LiveServer, chat_body

from workbench.copilots import Copilot, evaluate_version, load_spec, promote_version, serving_versions
from workbench.serving import Router, build_deployments, create_app


def _release(folder: Path, model: Any, version: int, stage: str) -> None:
    spec_file = folder / "copilot.yaml"
    text = spec_file.read_text(encoding="utf-8")
    text = text.replace("version: 1 ", f"version: {version} ", 1).replace("rubric_pass_rate: 0.5", "rubric_pass_rate: 0.0")
    spec_file.write_text(text.replace("canary_share: 0.1", "canary_share: 0.5"), encoding="utf-8")
    evaluate_version(Copilot(load_spec(folder), backend=model), limit=1)
    promote_version(folder, stage)


def test_a_registered_copilot_serves_ga_and_a_canary_share(
    served_spec: Path, tiny_model: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    _release(served_spec, tiny_model, 1, "ga")
    _release(served_spec, tiny_model, 2, "canary")
    monkeypatch.chdir(tmp_path / "it-helpdesk" / "eval")  # a folder named like the copilot would be served as a spec
    versions = serving_versions("it-helpdesk")
    assert [(v.spec.ref, v.stage) for v in versions] == [("it-helpdesk@1", "ga"), ("it-helpdesk@2", "canary")]
    deployments = build_deployments(versions, backends={("workbench-tiny", "None", None): tiny_model})
    assert deployments[0].batcher is deployments[1].batcher  # both versions batch on one model
    with LiveServer(create_app(deployments)) as live:
        url = f"{live.base_url}/chat/completions"
        models = httpx.get(f"{live.base_url}/models").json()["data"]
        assert [m["id"] for m in models] == ["it-helpdesk", "it-helpdesk@1", "it-helpdesk@2"]
        served = [httpx.post(url, json=chat_body("Hi", user=f"user-{i}", max_tokens=4), timeout=60).json()["model"]
                  for i in range(24)]  # fmt: skip
        assert {"it-helpdesk@1", "it-helpdesk@2"} == set(served)
        again = [httpx.post(url, json=chat_body("Hi", user="user-3", max_tokens=4), timeout=60).json()["model"]
                 for _ in range(3)]  # fmt: skip
        assert len(set(again)) == 1  # one user stays on one version
        pinned = httpx.post(url, json=chat_body("Hi", model="it-helpdesk@2", max_tokens=4), timeout=60).json()
        assert pinned["model"] == "it-helpdesk@2"
        health = httpx.get(f"{live.url}/health").json()
        assert health["canary_share"] == 0.5 and [v["stage"] for v in health["versions"]] == ["ga", "canary"]


def test_router_share_follows_the_setting(served_spec: Path, tiny_model: Any) -> None:
    deployments = build_deployments([Copilot(served_spec, backend=tiny_model)])
    ga = deployments[0]
    canary = type(ga)(ga.copilot, "canary", ga.batcher)
    ga.stage = "ga"
    router = Router([ga, canary], canary_share=0.25)
    picks = [router.pick("it-helpdesk", f"user-{i}") for i in range(2000)]
    share = sum(p is canary for p in picks) / len(picks)
    assert 0.21 < share < 0.29
    assert Router([ga, canary], canary_share=0.0).pick("it-helpdesk") is ga
    assert router.pick("unknown") is None
    ga.batcher.close()
