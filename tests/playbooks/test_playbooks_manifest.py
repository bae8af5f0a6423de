"""Manifest schema, parameters and discovery: bad input gets errors naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.errors import NotFoundError, ValidationError
from workbench.playbooks import (
    discover_playbooks,
    get_playbook,
    load_manifest,
    load_playbook,
    packs,
    resolve_parameters,
)


def test_valid_manifest_loads_with_defaults(make_playbook) -> None:
    root = make_playbook("probe")
    manifest = load_manifest(root)
    assert manifest.id == "probe"
    assert manifest.notebook_name == "probe.ipynb"
    assert manifest.task("work").tag == "task:work"
    assert manifest.skills_for("work") == {"prompting": 1.0}  # the task's own mapping
    assert manifest.skills_for("after") == {"prompting": 0.7, "cost_awareness": 0.3}  # the playbook's


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "playbook.yaml").write_text("id: bad\ntitle: [unclosed\nversion: 1\n")
    with pytest.raises(ValidationError) as info:
        load_manifest(root)
    err = info.value
    assert err.file == str(root / "playbook.yaml")
    assert err.line is not None and err.line >= 2
    assert "not valid YAML" in err.message


def test_missing_field_names_file_and_field(make_playbook) -> None:
    root = make_playbook("probe")
    data = yaml.safe_load((root / "playbook.yaml").read_text())
    del data["summary"]
    (root / "playbook.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ValidationError) as info:
        load_manifest(root)
    assert info.value.field == "summary"
    assert info.value.file.endswith("playbook.yaml")
    assert "missing" in info.value.message and info.value.hint


def test_wrong_parameter_default_type_names_field_and_line(make_playbook) -> None:
    root = make_playbook(
        "probe", manifest={"parameters": [{"name": "n", "type": "int", "default": "two", "help": "count"}]}
    )
    with pytest.raises(ValidationError) as info:
        load_manifest(root)
    err = info.value
    assert err.field == "parameters[0]"
    assert "'two'" in err.message and "int" in err.message
    text = (root / "playbook.yaml").read_text().splitlines()
    assert "- name: n" in text[err.line - 1]


def test_unknown_field_and_bad_skill_weight_are_all_reported(make_playbook) -> None:
    from workbench.playbooks.validate import validate_playbook

    root = make_playbook("probe", manifest={"colour": "blue", "skills": {"prompting": 3}})
    problems = validate_playbook(root)
    fields = {p.field for p in problems}
    assert {"colour", "skills"} <= fields
    assert any("(0, 1]" in p.message for p in problems)


def test_smoke_parameters_must_be_declared(make_playbook) -> None:
    root = make_playbook("probe", manifest={"smoke_parameters": {"nope": 1}})
    with pytest.raises(ValidationError) as info:
        load_manifest(root)
    assert info.value.field == "smoke_parameters.nope"


def test_parameters_are_coerced_and_unknown_names_rejected(make_playbook) -> None:
    manifest = load_manifest(make_playbook("probe"))
    assert resolve_parameters(manifest, {"n": "5"}) == {"mode": "ok", "n": 5}
    assert resolve_parameters(manifest, {}, smoke=True)["n"] == 1
    with pytest.raises(ValidationError) as info:
        resolve_parameters(manifest, {"n": "five"})
    assert info.value.field == "parameters.n" and "integer" in info.value.message
    with pytest.raises(ValidationError) as info:
        resolve_parameters(manifest, {"colour": "red"})
    assert info.value.field == "parameters.colour" and "mode, n" in (info.value.hint or "")
    with pytest.raises(ValidationError) as info:
        resolve_parameters(manifest, {"mode": "explode"})
    assert "one of" in info.value.message


@pytest.mark.parametrize(
    ("type_name", "text", "expected"),
    [
        ("float", "0.5", 0.5),
        ("float", "2", 2.0),
        ("bool", "yes", True),
        ("bool", "off", False),
        ("list", "[1, 2]", [1, 2]),
        ("dict", "{a: 1}", {"a": 1}),
        ("str", "42", "42"),
        ("int", "none", None),
    ],
)
def test_cli_strings_coerce_to_declared_types(type_name: str, text: str, expected: object) -> None:
    from workbench.playbooks.manifest import ParameterSpec
    from workbench.playbooks.params import coerce_value

    assert coerce_value(ParameterSpec(name="x", type=type_name), text) == expected  # type: ignore[arg-type]


def test_unknown_playbook_id_lists_known_ones(make_playbook, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_playbook("probe")
    with pytest.raises(NotFoundError) as info:
        get_playbook("no-such-playbook", [root.parent])
    assert "no-such-playbook" in info.value.message
    assert "probe" in (info.value.hint or "")


def test_discovery_order_sources_and_broken_folders(make_playbook, tmp_path: Path, monkeypatch) -> None:
    first = make_playbook("probe", parent=tmp_path / "first")
    make_playbook("probe", parent=tmp_path / "second")
    broken = tmp_path / "second" / "broken"
    broken.mkdir()
    (broken / "playbook.yaml").write_text("id: broken\n")
    catalog = discover_playbooks([tmp_path / "first", tmp_path / "second"])
    assert catalog.playbooks["probe"].root == first.resolve()
    assert [pb.root.parent.name for pb in catalog.shadowed] == ["second"]
    assert "broken" in catalog.broken
    with pytest.raises(ValidationError):  # a broken playbook by id raises its manifest error, not "unknown"
        get_playbook("broken", [tmp_path / "second"])
    # settings.playbook_dirs and a plugin pack (registered through the same door as entry points)
    monkeypatch.setenv("WORKBENCH_PLAYBOOK_DIRS", f'["{tmp_path / "second"}"]')
    from workbench.settings import reset_settings

    reset_settings()
    assert discover_playbooks().playbooks["probe"].source == "settings"
    make_playbook("plugged", parent=tmp_path / "plugin")
    packs.register("test-pack", lambda: tmp_path / "plugin")
    try:
        assert discover_playbooks().playbooks["plugged"].source == "plugin:test-pack"
    finally:
        packs._items.pop("test-pack")


def test_load_playbook_by_path_and_manifest_file(make_playbook) -> None:
    root = make_playbook("probe")
    assert load_playbook(root).id == "probe"
    assert load_playbook(root / "playbook.yaml").notebook_path == root.resolve() / "probe.ipynb"
    assert get_playbook(str(root)).id == "probe"
    with pytest.raises(NotFoundError):
        load_playbook(root / "missing")
