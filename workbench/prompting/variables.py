"""Typed template variables: their declaration (:class:`TemplateVariable`) and how values are checked or converted.

Strict checking serves values from code (a ``str`` variable gets a string); conversion from strings serves the
CLI's ``--var k=v`` and form inputs (``coerce=True`` in :meth:`~workbench.prompting.PromptTemplate.render`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

VarType = Literal["str", "int", "float", "bool", "list", "choice", "json"]

#: Number types: how to convert, what a value may be, and what the error calls it.
_NUMBERS: dict[str, tuple[type, tuple[type, ...], str]] = {
    "int": (int, (int, str), "an integer"),
    "float": (float, (int, float, str), "a number"),
}


class TemplateVariable(BaseModel):
    """One typed variable of a template.

    ``retrieved: true`` marks text that comes from documents (RAG): the guard scores it with the stricter
    retrieved-text injection heuristics.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: VarType = "str"
    description: str = ""
    default: Any = None
    required: bool | None = None
    choices: list[str] | None = None
    retrieved: bool = False
    multiline: bool = False

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"variable name '{value}' must be a Python identifier (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TemplateVariable:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"variable '{self.name}' has type 'choice' but no 'choices'")
        if self.default is not None:
            try:
                object.__setattr__(self, "default", coerce_value(self, self.default, strict=True))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"default of variable '{self.name}': {exc}") from None
        return self

    @property
    def is_required(self) -> bool:
        """Required unless it has a default (or says ``required: false``)."""
        return self.required if self.required is not None else self.default is None

    def spec(self) -> dict[str, Any]:
        """JSON-ready description (for the widget's form and ``template show``)."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "required": self.is_required,
            "choices": self.choices,
            "retrieved": self.retrieved,
            "multiline": self.multiline or (self.type == "str" and self.default is None),
        }


def coerce_value(var: TemplateVariable, value: Any, *, strict: bool) -> Any:
    """Check (``strict``) or convert (from strings) ``value`` to the variable's type."""
    t = var.type
    if t in ("str", "choice"):
        if not isinstance(value, str):
            if strict:
                raise TypeError(f"must be a string, got {type(value).__name__} {value!r}")
            value = str(value)
        if t == "choice" and var.choices and value not in var.choices:
            raise ValueError(f"must be one of {var.choices}, got {value!r}")
        return value
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and not strict:
            low = value.strip().lower()
            if low in {"true", "yes", "1", "on"}:
                return True
            if low in {"false", "no", "0", "off"}:
                return False
        raise TypeError(f"must be true or false, got {value!r}")
    if t in _NUMBERS:
        convert, accepted, what = _NUMBERS[t]
        if isinstance(value, bool) or not isinstance(value, accepted) or (isinstance(value, str) and strict):
            raise TypeError(f"must be {what}, got {type(value).__name__} {value!r}")
        try:
            return convert(value)
        except ValueError:
            raise TypeError(f"must be {what}, got {value!r}") from None
    if t == "list":
        if isinstance(value, (list, tuple)):
            return [str(v) if not isinstance(v, (str, dict)) else v for v in value]
        if isinstance(value, str) and not strict:
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    loaded = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise TypeError(f"is not a valid JSON list: {exc.msg}") from None
                if isinstance(loaded, list):
                    return loaded
            return [part.strip() for part in text.split("||" if "||" in text else ",") if part.strip()]
        raise TypeError(f"must be a list, got {type(value).__name__} {value!r}")
    if t == "json":
        if isinstance(value, str) and not strict:
            import json

            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise TypeError(f"is not valid JSON: {exc.msg}") from None
        return value
    raise TypeError(f"has an unknown type '{t}'")  # pragma: no cover - the model restricts it


def type_hint(var: TemplateVariable) -> str:
    """How to fix a value of the wrong type, for error hints."""
    return {
        "str": "pass text",
        "choice": f"pick one of {var.choices}",
        "int": "pass a whole number, e.g. 3",
        "float": "pass a number, e.g. 0.5",
        "bool": "pass true or false",
        "list": "pass a list (on the command line: comma-separated, or a JSON list)",
        "json": "pass JSON",
    }[var.type]
