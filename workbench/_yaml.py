"""YAML loading that remembers where each value came from, so that errors name the file, line and field.

Every loader of a user-written YAML file (playbook manifests, rubrics, skills taxonomies, tune configs) parses
with :func:`load_yaml` and reports a schema problem with :func:`located_error`, which prints as
``file:line (field 'tasks[1].title'): message``. :func:`jsonl_objects` reads JSON Lines files (question sets,
evaluation suites) with the same file-and-line errors. :func:`schema_issues` reads pydantic's errors into the
location and message those errors need. :class:`YamlDocument` is the base of the versioned documents (rubrics,
prompt templates): ``id``, ``version``, ``ref`` and the file they came from; copilot specs, whose version is a
string, share its base :class:`SourcedDocument`.

Core layer: imports only the standard library, PyYAML, pydantic and :mod:`workbench.errors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, PrivateAttr
from pydantic import ValidationError as PydanticValidationError

from workbench.errors import ValidationError, WorkbenchError

#: A path into loaded YAML: mapping keys and sequence indexes, outermost first.
Loc = tuple[str | int, ...]
#: The 1-based line of every key and item path of a document (see :func:`load_yaml`).
LineMap = dict[Loc, int]

_E = TypeVar("_E", bound=WorkbenchError)
_FIELD_PART = re.compile(r"[^.\[\]]+")


def load_yaml(
    text: str,
    *,
    file: str | Path | None = None,
    error: type[WorkbenchError] = ValidationError,
    message: str = "not valid YAML",
    hint: str = "fix the YAML syntax at that line",
) -> tuple[Any, LineMap]:
    """Parse ``text`` safely (``yaml.safe_load``) and map every key and item path to its line.

    Args:
        text: The YAML (or JSON) text.
        file: The file it came from, named in the error.
        error: The error type to raise for a syntax error.
        message: Start of that error's message; the parser's problem follows after a colon.
        hint: That error's hint.

    Raises:
        WorkbenchError: Of type ``error``, naming the line, when ``text`` is not valid YAML.
    """
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"{message}: {problem}", file=file, line=mark.line + 1 if mark is not None else None, hint=hint
        ) from None
    return data, _lines_of(node)


def jsonl_objects(
    lines: Iterable[str], *, file: str | Path, hint: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of JSON Lines text with their 1-based line numbers; blank lines are skipped.

    Args:
        lines: The file's lines.
        file: The file, named in errors.
        hint: The expected shape of a line, the hint of every error.

    Raises:
        ValidationError: A line is not valid JSON or not a JSON object (file and line named).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"invalid JSON: {exc.msg}", file=file, line=number, hint=hint) from None
        if not isinstance(data, dict):
            raise ValidationError("a line must be a JSON object", file=file, line=number, hint=hint)
        yield number, data


def yaml_lines(text: str) -> LineMap:
    """The line map of ``text`` (as :func:`load_yaml` returns it); empty when ``text`` is not valid YAML."""
    try:
        return _lines_of(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return {}


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    # safe_load's own steps, keeping the node tree for the line map: the text is parsed once.
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _lines_of(node: yaml.Node | None) -> LineMap:
    lines: LineMap = {}
    if node is not None:
        _walk(node, (), lines, set())
    return lines


def _walk(node: yaml.Node, loc: Loc, lines: LineMap, seen: set[int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    # Each node is walked once: a node reached again through an alias (recursive data, or a "billion laughs"
    # document whose aliases would expand exponentially) keeps only its own line; paths below it fall back to it.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[(*loc, key_node.value)] = key_node.start_mark.line + 1
                _walk(value_node, (*loc, key_node.value), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, seen)


def line_for(lines: LineMap, loc: Loc) -> int | None:
    """The line of ``loc`` (a key's own line, an item's first line), or of its nearest ancestor that has one.

    A missing key is reported at the mapping that lacks it; a number also matches a mapping key spelled so.
    """
    for end in range(len(loc), -1, -1):
        found = lines.get(loc[:end])
        if found is None:
            found = lines.get(tuple(str(part) for part in loc[:end]))
        if found is not None:
            return found
    return None


def format_loc(loc: Loc) -> str:
    """``("criteria", 1, "scorer", "pattern")`` -> ``criteria[1].scorer.pattern``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_loc(field: str) -> Loc:
    """``criteria[1].scorer.pattern`` -> ``("criteria", 1, "scorer", "pattern")`` (undoes format_loc)."""
    return tuple(int(part) if part.isdigit() else part for part in _FIELD_PART.findall(field))


@dataclass(frozen=True)
class SchemaIssue:
    """One pydantic error, as a Workbench error needs it.

    Attributes:
        loc: Where, as a path into the validated data.
        kind: pydantic's error type (``missing``, ``extra_forbidden``, ``greater_than``...).
        message: pydantic's message, without the ``Value error, `` it puts before a validator's own.
        cause: The exception a validator raised, when one did.
    """

    loc: Loc
    kind: str
    message: str
    cause: BaseException | None = None


def schema_issues(
    exc: PydanticValidationError, *, drop: Callable[[str | int], bool] | None = None
) -> list[SchemaIssue]:
    """The errors of ``exc``, in order; ``drop`` removes location parts that are not user fields (tags)."""
    issues = []
    for err in exc.errors():
        loc = tuple(part for part in err["loc"] if drop is None or not drop(part))
        cause = (err.get("ctx") or {}).get("error")
        issues.append(
            SchemaIssue(
                loc=loc,
                kind=err["type"],
                message=str(err["msg"]).removeprefix("Value error, "),
                cause=cause if isinstance(cause, BaseException) else None,
            )
        )
    return issues


def located_error(
    error: type[_E],
    message: str,
    loc: Loc,
    *,
    file: str | Path | None,
    lines: LineMap | None,
    hint: str | None = None,
    field: str | None = None,
) -> _E:
    """An ``error`` about the value at ``loc``, printed as ``file:line (field 'a.b[0]'): message``.

    Args:
        error: The error type (:class:`~workbench.errors.ValidationError`, ``ConfigError``...).
        message: What is wrong.
        loc: Where, as a path into the loaded data.
        file: The file at fault.
        lines: The file's line map (:func:`load_yaml`); ``None`` or empty when there is no file text.
        hint: How to fix it.
        field: The field to name, when it is not ``format_loc(loc)``.
    """
    name = format_loc(loc) if field is None else field
    return error(message, file=file, line=line_for(lines or {}, loc), field=name or None, hint=hint)


class SourcedDocument(BaseModel):
    """A document loaded from a YAML file: ``id``, ``version``, its ``ref`` and where it came from.

    Subclasses narrow ``version`` (:class:`YamlDocument`: a whole number; copilot specs: a version string) and
    add their fields, config and id checks; their loaders set ``_source``.
    """

    id: str
    version: int | str

    _source: Path | None = PrivateAttr(None)

    @property
    def ref(self) -> str:
        """``id@version``: what telemetry, history and reports record."""
        return f"{self.id}@{self.version}"

    @property
    def source(self) -> Path | None:
        """The file this document was loaded from, if any."""
        return self._source


class YamlDocument(SourcedDocument):
    """A document whose ``version`` is a whole number from 1 (rubrics, prompt templates)."""

    version: int = Field(ge=1)

