"""Prompt templates: the built-in library, rendering, typed variables, and every bad-input error."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import NotFoundError, ValidationError
from workbench.prompting import (
    BUILTIN_DIR,
    TemplateLibrary,
    get_template,
    library,
    list_templates,
    load_template,
    parse_ref,
)

SAMPLE = {"str": "The export failed twice on Monday.", "int": 3, "float": 0.5, "bool": True, "list": ["a", "b"]}


def write(tmp_path: Path, body: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_at_least_ten_builtin_templates_for_copilot_tasks() -> None:
    templates = list_templates()
    ids = {t.id for t in templates}
    assert len(ids) >= 10
    assert {"summarise", "draft-reply", "extract-json", "classify-ticket", "rewrite-tone", "answer-with-citations"} <= ids
    for t in templates:
        assert t.title and t.description and t.template.strip(), t.ref
        assert t.source is not None and t.source.parent == BUILTIN_DIR


@pytest.mark.parametrize("tpl", TemplateLibrary([BUILTIN_DIR]).templates(all_versions=True), ids=lambda t: t.ref)
def test_every_builtin_renders_with_sample_values(tpl) -> None:  # type: ignore[no-untyped-def]
    values = {v.name: SAMPLE[v.type] for v in tpl.variables if v.is_required}
    rendered = tpl.render(values)
    assert rendered.template == tpl.ref
    assert rendered.messages[-1]["role"] == "user" and rendered.prompt
    roles = [m["role"] for m in rendered.messages]
    assert roles.count("user") == roles.count("assistant") + 1
    if tpl.system:
        assert roles[0] == "system"


def test_versions_and_refs() -> None:
    assert get_template("summarise").version == 2
    assert get_template("summarise@1").version == 1
    assert get_template("summarise", version=1).ref == "summarise@1"
    assert library().versions("summarise") == [1, 2]
    assert parse_ref("summarise@v2") == ("summarise", 2)


def test_few_shot_examples_render_through_the_same_body() -> None:
    rendered = get_template("summarise@2").render({"text": "New text.", "audience": "customer"})
    user_turns = [m["content"] for m in rendered.messages if m["role"] == "user"]
    assert "Audience: executive. Summarise in at most 25 words." in user_turns[0]
    assert user_turns[1].startswith("Audience: customer. Summarise in at most 60 words.")
    assert rendered.variables == {"text": "New text.", "audience": "customer", "max_words": 60}
    assert rendered.parameters["temperature"] == 0.2


def test_retrieved_variables_are_collected_for_injection_checks() -> None:
    rendered = get_template("answer-with-citations").render({"question": "q?", "sources": ["doc one", "doc two"]})
    assert rendered.retrieved == ["doc one", "doc two"]
    assert "[1] doc one\n[2] doc two" in rendered.prompt


def test_system_override() -> None:
    rendered = get_template("summarise@1").render({"text": "x"}, system="Be terse.")
    assert rendered.system == "Be terse."


# ------------------------------------------------------------------------------------------- bad input


def test_unknown_template_suggests_close_names() -> None:
    with pytest.raises(NotFoundError) as err:
        get_template("summarize")
    assert "unknown template 'summarize'" in err.value.message and "summarise" in (err.value.hint or "")


def test_unknown_version() -> None:
    with pytest.raises(NotFoundError, match="no version 9") as err:
        get_template("summarise@9")
    assert "[1, 2]" in (err.value.hint or "")


def test_missing_variable_names_template_and_variable() -> None:
    with pytest.raises(ValidationError) as err:
        get_template("classify-ticket").render({})
    e = err.value
    assert "template 'classify-ticket@1'" in e.message and "'ticket'" in e.message
    assert e.field == "variables.ticket" and e.file and e.file.endswith("classify-ticket.yaml")


def test_mistyped_variable() -> None:
    with pytest.raises(ValidationError) as err:
        get_template("summarise@2").render({"text": "x", "max_words": "many"})
    assert "'max_words' must be an integer" in err.value.message and err.value.hint
    with pytest.raises(ValidationError, match="must be one of"):
        get_template("summarise@2").render({"text": "x", "audience": "martian"})
    with pytest.raises(ValidationError, match="must be a string"):
        get_template("summarise@2").render({"text": 42})


def test_strings_are_coerced_only_when_asked() -> None:
    tpl = get_template("summarise@2")
    assert tpl.render({"text": "x", "max_words": "12"}, coerce=True).variables["max_words"] == 12
    rendered = get_template("classify-ticket").render({"ticket": "t", "categories": "a, b"}, coerce=True)
    assert rendered.variables["categories"] == ["a", "b"]
    assert get_template("rewrite-tone").render({"text": "t", "keep_length": "no"}, coerce=True).variables["keep_length"] is False


def test_unknown_variable_suggests_the_declared_one() -> None:
    with pytest.raises(ValidationError) as err:
        get_template("summarise@2").render({"txt": "x"})
    assert "no variable 'txt'" in err.value.message and "did you mean 'text'" in (err.value.hint or "")


def test_syntax_error_points_at_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id: broken\nversion: 1\nvariables:\n  - {name: text}\ntemplate: |\n  first line\n  {{ text }\n",
    )
    with pytest.raises(ValidationError) as err:
        load_template(path)
    e = err.value
    assert "Jinja syntax error" in e.message and "broken@1" in e.message
    assert e.file == str(path) and e.line == 7 and e.field == "template"


def test_undeclared_variable_is_caught_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "id: t\nversion: 1\ntemplate: 'Hello {{ name }}'\n")
    with pytest.raises(ValidationError, match="undeclared variable 'name'") as err:
        load_template(path)
    assert err.value.field == "variables.name"


def test_schema_errors_name_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "id: t\nversion: 1\nvariables:\n  - {name: n, type: choice}\ntemplate: '{{ n }}'\n")
    with pytest.raises(ValidationError) as err:
        load_template(path)
    assert err.value.field == "variables.n" and "choices" in err.value.message
    path = write(tmp_path, "id: t\nversion: 0\ntemplate: x\n", "v.yaml")
    with pytest.raises(ValidationError) as err:
        load_template(path)
    assert err.value.field == "version" and err.value.line == 2
    path = write(tmp_path, "id: t\nversion: 1\ntemplat: x\n", "typo.yaml")
    with pytest.raises(ValidationError) as err:
        load_template(path)
    assert err.value.field in {"template", "templat"}


def test_empty_rendered_prompt_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id: t\nversion: 1\nvariables:\n  - {name: text, type: str, default: ''}\n"
        "  - {name: flag, type: bool, default: false}\ntemplate: '{% if flag %}{{ text }}{% endif %}'\n",
    )
    with pytest.raises(ValidationError, match="empty prompt"):
        load_template(path).render({})


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id: evil\nversion: 1\nvariables:\n  - {name: x}\ntemplate: \"{{ x.__class__.__mro__[1].__subclasses__() }}\"\n",
    )
    with pytest.raises(ValidationError) as err:
        load_template(path).render({"x": "s"})
    assert "evil@1" in err.value.message


def test_team_templates_in_data_dir_add_and_override(settings) -> None:  # type: ignore[no-untyped-def]
    folder = settings.data_dir / "templates"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("id: summarise\nversion: 3\ntitle: Team summary\ndescription: d\ntemplate: Summarise.\n")
    lib = TemplateLibrary()
    assert lib.get("summarise").version == 3 and lib.versions("summarise") == [1, 2, 3]


def test_a_template_with_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    from workbench.errors import ValidationError
    from workbench.prompting.templates import load_template

    bad = tmp_path / "tpl.yaml"
    bad.write_text("id: mine\nversion: 1\n  template: [\n")
    with pytest.raises(ValidationError, match="template is not valid YAML") as caught:
        load_template(bad)
    assert caught.value.file == str(bad) and caught.value.line == 3
    assert "template: |" in (caught.value.hint or "")
