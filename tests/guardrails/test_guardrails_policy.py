"""The policy file: defaults, validation errors that name file/line/field, allow/deny lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.guardrails import DEFAULT_POLICY_PATH, Policy, default_policy, load_policy


def test_default_policy_is_the_shipped_file_and_matches_the_model_defaults() -> None:
    policy = default_policy()
    assert policy.ref == "default@1"
    assert policy.pii.prompt == "redact" and policy.pii.output == "redact"
    assert policy.injection.retrieved.action == "block"
    # The YAML restates the built-in defaults: a policy file that only names a team keeps them.
    assert policy.model_dump(exclude={"description"}) == Policy().model_dump(exclude={"description"})
    assert DEFAULT_POLICY_PATH.is_file()


def test_partial_policy_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("name: finance\nversion: 3\npii: {prompt: block}\nlimits: {requests_per_minute: 5}\n")
    policy = load_policy(path)
    assert policy.ref == "finance@3"
    assert policy.pii.prompt == "block" and policy.pii.output == "redact"
    assert policy.limits.requests_per_minute == 5 and policy.limits.tokens_per_day == 2_000_000


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\npii:\n  promt: block\n")
    with pytest.raises(ValidationError) as err:
        load_policy(path)
    assert err.value.field == "pii.promt" and err.value.file == str(path)
    assert "spelling" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("pii: {kinds: [email, passport]}\n", "pii.kinds"),
        ("pii: {prompt: hide}\n", "pii.prompt"),
        ("injection: {user: {threshold: 2}}\n", "injection.user.threshold"),
        ("limits: {requests_per_minute: 0}\n", "limits.requests_per_minute"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    with pytest.raises(ValidationError) as err:
        load_policy(path)
    assert err.value.field == field


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\npii:\n  prompt: [redact\n  output: block\n")
    with pytest.raises(ValidationError) as err:
        load_policy(path)
    assert err.value.line is not None and err.value.file == str(path)


def test_missing_policy_file() -> None:
    with pytest.raises(NotFoundError):
        load_policy("/nonexistent/policy.yaml")


def test_model_allow_and_deny_globs() -> None:
    policy = load_policy({"models": {"allow": ["workbench-*", "openai:gpt-4o*"], "deny": ["openai:gpt-4o"]}})
    assert policy.model_allowed("workbench-tiny")[0]
    assert policy.model_allowed("openai:gpt-4o-mini")[0]
    ok, why = policy.model_allowed("openai:gpt-4o")
    assert not ok and "deny pattern" in why
    ok, why = policy.model_allowed("org/llama")
    assert not ok and "allow list" in why


def test_deny_terms_are_whole_phrases_case_insensitive_with_allowed_phrases() -> None:
    policy = load_policy({"terms": {"deny": ["Project Nightingale", "kill"], "allow": ["kill switch"]}})
    assert policy.denied_terms("what is PROJECT nightingale?") == ["Project Nightingale"]
    assert policy.denied_terms("use the kill switch") == []
    assert policy.denied_terms("kill the process") == ["kill"]
    assert policy.denied_terms("skills and killer features") == []


def test_a_policy_with_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    from workbench.errors import ValidationError
    from workbench.guardrails.policy import load_policy

    bad = tmp_path / "policy.yaml"
    bad.write_text("name: mine\n  deny_terms: [\n")
    with pytest.raises(ValidationError, match="policy is not valid YAML: mapping values are not allowed") as caught:
        load_policy(bad)
    assert caught.value.file == str(bad) and caught.value.line == 2


def test_a_canary_too_short_to_be_distinctive_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "short.yaml"
    path.write_text("output:\n  canaries: ['A-1']\n")
    with pytest.raises(ValidationError) as err:
        load_policy(path)
    assert "output.canaries" in str(err.value) and "distinctive" in str(err.value)
    assert load_policy({"output": {"canaries": ["ZEPHYR-7"]}}).leaked_canaries("z.e.p.h.y.r.7") == 1
