"""Run parameters: validated against the manifest, with strings from the command line coerced to type."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ValidationError
from workbench.playbooks.manifest import RESERVED_PARAMETERS, ParameterSpec, PlaybookManifest, matches_type

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
}
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def coerce_value(spec: ParameterSpec, value: Any, *, file: str | Path | None = None) -> Any:
    """``value`` as ``spec.type`` (strings are parsed: ``"3"`` -> 3, ``"yes"`` -> True, JSON for list/dict).

    Raises:
        ValidationError: Naming the parameter, the expected type and the value given.
    """
    field = f"parameters.{spec.name}"
    if isinstance(value, str) and spec.type != "str":
        text = value.strip()
        try:
            if text.lower() in ("none", "null", "~"):
                value = None
            elif spec.type == "int":
                value = int(text)
            elif spec.type == "float":
                value = float(text)
            elif spec.type == "bool":
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                value = text.lower() in _TRUE
            else:
                value = yaml.safe_load(text)
        except (ValueError, yaml.YAMLError):
            pass  # reported below as a type error with the original text
    elif spec.type == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not matches_type(value, spec.type):
        example = {
            "str": "text",
            "int": "3",
            "float": "0.5",
            "bool": "true",
            "list": "[1, 2]",
            "dict": "{a: 1}",
        }
        raise ValidationError(
            f"parameter '{spec.name}' must be {_TYPE_NAMES[spec.type]}, got {value!r}",
            file=file,
            field=field,
            hint=f"pass e.g. -p {spec.name}={example[spec.type]}" + (f" ({spec.help})" if spec.help else ""),
        )
    if value is None:
        return None
    if spec.choices is not None and value not in spec.choices:
        raise ValidationError(
            f"parameter '{spec.name}' must be one of {spec.choices}, got {value!r}",
            file=file,
            field=field,
            hint=f"pick one of: {', '.join(map(str, spec.choices))}",
        )
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise ValidationError(
            f"parameter '{spec.name}' = {value!r} is outside [{spec.min}, {spec.max}]",
            file=file,
            field=field,
            hint="pass a value inside the range the manifest declares",
        )
    return value


def resolve_parameters(
    manifest: PlaybookManifest,
    given: Mapping[str, Any] | None = None,
    *,
    smoke: bool = False,
    file: str | Path | None = None,
) -> dict[str, Any]:
    """The full parameter set of a run: defaults, then smoke parameters (when ``smoke``), then ``given``.

    Args:
        manifest: The playbook's manifest.
        given: Values chosen by the caller (strings are coerced to the declared type).
        smoke: Apply the manifest's ``smoke_parameters`` (the fast settings CI uses).
        file: The manifest file, named in errors.

    Raises:
        ValidationError: For an unknown name (listing the known ones) or a value of the wrong type.
    """
    specs = {p.name: p for p in manifest.parameters}
    values: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    if smoke:
        values.update(manifest.smoke_parameters)
    for name, value in (given or {}).items():
        spec = specs.get(name)
        if spec is None:
            if name in RESERVED_PARAMETERS:
                hint = "the runner sets it: pass --learner / run ids to the runner instead"
            else:
                hint = f"known parameters of '{manifest.id}': {', '.join(specs) or 'none'}"
            raise ValidationError(
                f"unknown parameter '{name}' for playbook '{manifest.id}'",
                file=file,
                field=f"parameters.{name}",
                hint=hint,
            )
        values[name] = coerce_value(spec, value, file=file)
    return values


def parse_assignments(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``-p``) as a dict of strings.

    Raises:
        ValidationError: For an item without ``=``.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError(
                f"parameter '{pair}' is not of the form name=value",
                field="parameters",
                hint="pass -p name=value, e.g. -p max_new_tokens=32",
            )
        out[name.strip()] = value
    return out
