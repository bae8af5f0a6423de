"""The shared YAML helper: one safe parse with line numbers, and errors naming the file, line and field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from workbench._yaml import (
    format_loc,
    line_for,
    load_yaml,
    located_error,
    parse_loc,
    schema_issues,
    yaml_lines,
)
from workbench.errors import ConfigError, ValidationError

TEXT = """\
# a comment
id: demo
tasks:
  - id: one
    title: One
  - {id: two}
options:
  retries: 3
"""


def test_load_yaml_returns_data_and_the_line_of_every_path() -> None:
    data, lines = load_yaml(TEXT)
    assert data["tasks"][1] == {"id": "two"}
    assert lines[()] == 2  # the document starts at its first key
    assert lines[("id",)] == 2
    assert lines[("tasks", 0)] == 4 and lines[("tasks", 0, "title")] == 5
    assert lines[("tasks", 1, "id")] == 6
    assert lines[("options", "retries")] == 8
    assert yaml_lines(TEXT) == lines


def test_line_for_falls_back_to_the_nearest_ancestor() -> None:
    _, lines = load_yaml(TEXT)
    assert line_for(lines, ("tasks", 1, "title")) == 6  # missing key: the item that lacks it
    assert line_for(lines, ("options", "colour")) == 7  # the mapping's own key line
    assert line_for(lines, ("nothing",)) == 2
    assert line_for({}, ("id",)) is None
    _, numbered = load_yaml("levels:\n  1: low\n  2: high\n")
    assert line_for(numbered, ("levels", 2)) == 3  # a number matches a key spelled so


def test_syntax_error_names_file_and_line_with_the_callers_wording() -> None:
    with pytest.raises(ValidationError) as info:
        load_yaml("id: x\ntitle: [unclosed\nversion: 1\n", file="p.yaml")
    err = info.value
    assert err.file == "p.yaml" and err.line is not None and err.line >= 2
    assert err.message.startswith("not valid YAML: ") and err.hint
    with pytest.raises(ConfigError, match="the config is not valid YAML") as config:
        load_yaml("a: [", error=ConfigError, message="the config is not valid YAML", hint="fix it")
    assert config.value.hint == "fix it"
    assert yaml_lines("a: [") == {}


def test_empty_and_recursive_documents() -> None:
    assert load_yaml("") == (None, {})
    data, lines = load_yaml("a: &x [1, *x]\n")
    assert data["a"][1] is data["a"]
    assert lines[("a", 1)] == 1


def test_loc_formatting_round_trips() -> None:
    loc = ("criteria", 1, "scorer", "pattern")
    assert format_loc(loc) == "criteria[1].scorer.pattern"
    assert parse_loc("criteria[1].scorer.pattern") == loc
    assert format_loc(()) == ""


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str


class _Outer(BaseModel):
    tasks: list[_Inner]


def test_schema_issues_and_located_errors() -> None:
    data, lines = load_yaml("tasks:\n  - title: ok\n  - colour: red\n")
    with pytest.raises(PydanticValidationError) as info:
        _Outer.model_validate(data)
    issues = schema_issues(info.value)
    assert [(i.loc, i.kind) for i in issues] == [
        (("tasks", 1, "title"), "missing"),
        (("tasks", 1, "colour"), "extra_forbidden"),
    ]
    assert schema_issues(info.value, drop=lambda part: part == 1)[0].loc == ("tasks", "title")
    err = located_error(
        ValidationError, "unknown field", issues[1].loc, file="t.yaml", lines=lines, hint="remove it"
    )
    assert (err.file, err.line, err.field) == ("t.yaml", 3, "tasks[1].colour")
    assert str(err).startswith("t.yaml:3 (field 'tasks[1].colour'): unknown field")
    config = located_error(ConfigError, "bad", ("tasks",), file=None, lines=None, field="jobs")
    assert isinstance(config, ConfigError) and config.line is None and config.field == "jobs"


def test_nested_aliases_do_not_expand_exponentially() -> None:
    import time

    from workbench._yaml import load_yaml

    levels = ["a0: &a0 [x, y, z, w, v, u, t, s, r, q]"]
    for i in range(1, 12):  # 10**12 paths if every alias were walked
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    started = time.monotonic()
    data, lines = load_yaml("\n".join(levels) + "\n", file="bomb.yaml")
    assert time.monotonic() - started < 30
    assert lines[("a11",)] == 12 and len(lines) < 1000
    assert data["a11"][0] is data["a10"]  # PyYAML shares aliased objects instead of copying them
