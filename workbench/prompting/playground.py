"""The prompting playground as a Python API: pick a model and a template, run, stream, compare, keep history.

::

    from workbench.prompting import Playground

    pg = Playground(template="summarise", variables={"text": ticket}, temperature=0.2)
    run = pg.run()                                   # guarded, recorded; run.text, run.latency_s, run.cost
    for piece in pg.stream():                        # redacted text as it is generated
        print(piece, end="")
    table = pg.compare(["summarise@1", "summarise@2"])   # same inputs, side by side
    pg.history                                       # every run, newest last

The notebook widget (:class:`workbench.widgets.playground.PlaygroundWidget`) is a thin view over this class;
everything it can do works here without a browser (papermill, nbclient, scripts).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import ValidationError
from workbench.guardrails import Guard
from workbench.prompting.runner import GenerationResult, default_guard, guarded_generate
from workbench.prompting.template_library import get_template
from workbench.prompting.templates import PromptTemplate, RenderedPrompt

if TYPE_CHECKING:  # pragma: no cover
    from workbench.models import ChatBackend

_BACKENDS: OrderedDict[tuple[str, int | None], Any] = OrderedDict()
_BACKENDS_LOCK = threading.Lock()
_MAX_BACKENDS = 4


def get_backend(model: str | ChatBackend | None = None, bits: int | None = None) -> ChatBackend:
    """A loaded model, cached per ``(name, bits)`` (the last four stay loaded).

    Args:
        model: A model name for ``workbench.models.load_model`` (default: ``settings.default_model``), or an
            already loaded backend (returned as is).
        bits: Weight precision (4, 8, 16, 32); ``None`` lets the runtime choose.
    """
    if model is not None and not isinstance(model, str):
        return model
    from workbench.models import default_model_name

    name = model or default_model_name()
    key = (name, bits)
    with _BACKENDS_LOCK:
        found = _BACKENDS.get(key)
        if found is not None:
            _BACKENDS.move_to_end(key)
            return found  # type: ignore[no-any-return]
    from workbench.models import load_model

    backend = load_model(name, bits=bits)
    with _BACKENDS_LOCK:
        _BACKENDS[key] = backend
        while len(_BACKENDS) > _MAX_BACKENDS:
            _BACKENDS.popitem(last=False)
    return backend


@dataclass(frozen=True)
class Variant:
    """One column of a comparison: what differs from the playground's current settings.

    Attributes:
        template: ``id`` or ``id@version`` (``""`` for a free prompt).
        model: A model name.
        bits: Weight precision.
        system: A system prompt override.
        params: Generation parameter overrides (temperature, top_p, max_new_tokens, seed).
        label: The column title (default: built from what differs).
    """

    template: str | None = None
    model: str | None = None
    bits: int | None = None
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    @classmethod
    def coerce(cls, value: Variant | str | Mapping[str, Any]) -> Variant:
        """A Variant from itself, a template reference (``"summarise@1"``) or a dict of fields."""
        if isinstance(value, Variant):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            data = dict(value)
            params = {k: data.pop(k) for k in ("temperature", "top_p", "max_new_tokens", "seed") if k in data}
            if params:
                data["params"] = {**data.get("params", {}), **params}
            try:
                return cls(**data)
            except TypeError as exc:
                raise ValidationError(
                    f"invalid variant {value!r}: {exc}",
                    hint="a variant has template, model, bits, system, params and label",
                    field="variants",
                ) from None
        raise ValidationError(f"invalid variant {value!r}", field="variants")

    @classmethod
    def parse(cls, line: str) -> Variant:
        """A Variant from one line of the widget's Compare box.

        Words are ``key=value`` settings or a template reference: ``summarise@2``, ``temperature=0.2 seed=3``,
        ``model=workbench-tiny bits=8``, ``summarise@1 label=old``; ``system=`` takes the rest of the line
        (``temperature=0.2 system=You answer in one sentence.``).

        Raises:
            ValidationError: An unknown key or a value of the wrong type, naming the line and the keys allowed.
        """
        text = f" {line.strip()}"
        rest, has_system, system = text.partition(" system=")
        fields: dict[str, Any] = {"system": system.strip()} if has_system else {}
        params: dict[str, Any] = {}
        for word in rest.split():
            key, eq, raw = word.partition("=")
            if not eq:
                if "template" in fields:
                    raise _variant_error(line, f"two template references ({fields['template']!r}, {word!r})")
                fields["template"] = word
            elif key in _VARIANT_NUMBERS:
                try:
                    number = _VARIANT_NUMBERS[key](raw)
                except ValueError:
                    raise _variant_error(line, f"{key}={raw!r} is not a {_VARIANT_NUMBERS[key].__name__}") from None
                (fields if key == "bits" else params)[key] = number
            elif key in ("model", "label", "template"):
                fields[key] = raw
            else:
                raise _variant_error(line, f"unknown setting {key!r}")
        if not fields and not params:
            raise _variant_error(line, "nothing to vary")
        return cls(**fields, params=params)

    def describe(self, index: int) -> str:
        """The label, or a short description of what this variant sets."""
        if self.label:
            return self.label
        parts = [p for p in (self.template, self.model, f"{self.bits}-bit" if self.bits else None) if p]
        parts += [f"{k}={v}" for k, v in self.params.items()]
        if self.system is not None:
            parts.append("custom system")
        return " · ".join(parts) or f"variant {index + 1}"


_VARIANT_NUMBERS: dict[str, type] = {"temperature": float, "top_p": float, "max_new_tokens": int, "seed": int,
                                      "bits": int}  # fmt: skip


def _variant_error(line: str, what: str) -> ValidationError:
    keys = ", ".join([*_VARIANT_NUMBERS, "model", "label", "system"])
    return ValidationError(
        f"compare variant {line.strip()!r}: {what}",
        hint=f"write a template reference (summarise@2) and/or key=value settings: {keys} (system= takes the rest "
        "of the line), e.g. 'temperature=0.2 seed=1'",
        field="variants",
    )


@dataclass
class Comparison:
    """Side-by-side results of 2-4 variants on the same inputs."""

    variants: list[Variant]
    runs: list[GenerationResult | None]
    errors: list[str | None]

    @property
    def labels(self) -> list[str]:
        """Column titles."""
        return [v.describe(i) for i, v in enumerate(self.variants)]

    def rows(self) -> list[dict[str, Any]]:
        """One row per variant: label, text, metrics and error."""
        out: list[dict[str, Any]] = []
        for label, run, err in zip(self.labels, self.runs, self.errors, strict=False):
            row: dict[str, Any] = {"label": label, "text": run.text if run else "", "error": err}
            row["status"] = "error" if err else (run.status if run else "error")
            if run is not None:
                row.update(run.metrics())
                row["model"] = run.model
                row["template"] = run.template
                row["id"] = run.id
            out.append(row)
        return out

    def to_frame(self) -> Any:
        """A pandas DataFrame of :meth:`rows` (pandas imported here only)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def __len__(self) -> int:
        return len(self.runs)


class Playground:
    """Prompt a model through templates, guarded and recorded, with history and comparisons.

    Args:
        model: Model name (default ``settings.default_model``) or a loaded backend.
        template: Template ``id``/``id@version``, a :class:`PromptTemplate`, or ``None`` for a free prompt.
        variables: Template variable values.
        prompt: The free prompt (used when there is no template).
        system: System prompt; overrides the template's.
        bits: Weight precision for the model.
        guard: The guard (default: built-in policy); or pass ``policy``.
        policy: A policy path/dict/object for a new guard.
        history_limit: Runs kept in :attr:`history`.
        task: Telemetry task name for the runs.
        **params: Generation parameters: ``temperature``, ``top_p``, ``max_new_tokens``, ``seed``.
    """

    def __init__(
        self,
        model: str | ChatBackend | None = None,
        *,
        template: str | PromptTemplate | None = None,
        variables: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        bits: int | None = None,
        guard: Guard | None = None,
        policy: Any = None,
        history_limit: int = 100,
        task: str | None = None,
        **params: Any,
    ) -> None:
        unknown = sorted(set(params) - {"temperature", "top_p", "max_new_tokens", "seed", "stop"})
        if unknown:
            raise ValidationError(
                f"unknown playground parameter(s) {unknown}",
                hint="generation parameters are temperature, top_p, max_new_tokens, seed and stop",
            )
        self.model = model
        self.template = template
        self.variables: dict[str, Any] = dict(variables or {})
        self.prompt = prompt
        self.system = system
        self.bits = bits
        self.params: dict[str, Any] = dict(params)
        self._guard = guard if guard is not None else (Guard(policy) if policy is not None else None)
        self.history_limit = history_limit
        self.task = task
        self.history: list[GenerationResult] = []
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------- state

    @property
    def guard(self) -> Guard:
        """The guard in use."""
        return self._guard if self._guard is not None else default_guard()

    @property
    def model_name(self) -> str:
        """The model's name."""
        if self.model is None:
            from workbench.models import default_model_name

            return default_model_name()
        return self.model if isinstance(self.model, str) else str(getattr(self.model, "name", "model"))

    def backend(self, model: str | ChatBackend | None = None, bits: int | None = None) -> ChatBackend:
        """The loaded model for ``model``/``bits`` (default: the playground's)."""
        own = self.model if self.model is not None and not isinstance(self.model, str) else None
        if own is not None and (model is None or model == self.model_name) and bits in (None, self.bits):
            return own
        return get_backend(model if model is not None else self.model, bits if bits is not None else self.bits)

    def get_template(self, template: str | PromptTemplate | None = None) -> PromptTemplate | None:
        """The template object for ``template`` (default: the playground's), or ``None``."""
        ref = template if template is not None else self.template
        if ref is None or ref == "":
            return None
        return get_template(ref)

    def render(
        self,
        *,
        template: str | PromptTemplate | None = None,
        variables: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        coerce: bool = False,
    ) -> RenderedPrompt | list[dict[str, str]] | str:
        """What would be sent: a :class:`RenderedPrompt` for templates, else the prompt (with system message)."""
        tpl = self.get_template(template)
        sys_text = system if system is not None else self.system
        if tpl is not None:
            values = {**self.variables, **(variables or {})}
            declared = {v.name for v in tpl.variables}
            # Comparing templates whose variables differ: each one takes the inputs it declares.
            values = {k: v for k, v in values.items() if k in declared}
            return tpl.render(values, system=sys_text, coerce=coerce)
        text = prompt if prompt is not None else (self.prompt or "")
        if sys_text:
            return [{"role": "system", "content": sys_text}, {"role": "user", "content": text}]
        return text

    # ------------------------------------------------------------------------------------------------- run

    def run(
        self,
        *,
        template: str | PromptTemplate | None = None,
        variables: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        model: str | ChatBackend | None = None,
        bits: int | None = None,
        stream: bool = False,
        on_text: Callable[[str], None] | None = None,
        label: str | None = None,
        coerce: bool = False,
        **params: Any,
    ) -> GenerationResult:
        """Run one guarded, recorded generation and add it to :attr:`history`.

        Arguments override the playground's settings for this run only.

        Raises:
            ValidationError, ContextLengthError, PolicyViolation, NotFoundError, ModelError: see
            :func:`~workbench.prompting.runner.guarded_generate` and :func:`get_template`.
        """
        rendered = self.render(template=template, variables=variables, prompt=prompt, system=system, coerce=coerce)
        backend = self.backend(model, bits)
        result = guarded_generate(
            backend,
            rendered,
            params={**self.params, **{k: v for k, v in params.items() if v is not None}},
            guard=self.guard,
            stream=stream,
            on_text=on_text,
            label=label,
            task=self.task,
        )
        self._remember(result)
        return result

    def stream(self, **kwargs: Any) -> Iterator[str]:
        """Run with streaming; yields redacted text pieces. The finished run is then ``history[-1]``."""
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                result = self.run(stream=True, on_text=lambda t: pieces.put(("text", t)), **kwargs)
                pieces.put(("done", result))
            except BaseException as exc:  # handed to the consumer thread
                pieces.put(("error", exc))

        thread = threading.Thread(target=work, name="workbench-playground-stream", daemon=True)
        thread.start()
        while True:
            kind, value = pieces.get()
            if kind == "text":
                yield value
            elif kind == "error":
                thread.join()
                raise value
            else:
                thread.join()
                return

    def compare(
        self,
        variants: Sequence[Variant | str | Mapping[str, Any]],
        *,
        variables: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        stream: bool = False,
        on_text: Callable[[int, str], None] | None = None,
        on_result: Callable[[int, GenerationResult | None, str | None], None] | None = None,
        raise_errors: bool = False,
        coerce: bool = False,
    ) -> Comparison:
        """Run 2-4 variants on the same inputs, one after the other, and return them side by side.

        Args:
            variants: Variants, template refs (``"summarise@1"``) or dicts of :class:`Variant` fields.
            variables: Inputs shared by every variant (merged over the playground's).
            prompt: A free prompt shared by every variant without a template.
            stream: Stream each variant; ``on_text(index, piece)`` receives the text.
            on_text: Streaming callback.
            on_result: Called as each variant finishes with ``(index, run or None, error message or None)``.
            raise_errors: Re-raise the first error instead of recording it in the comparison.
            coerce: Convert string variable values to the declared types (form input).

        Raises:
            ValidationError: Fewer than 2 or more than 4 variants.
        """
        items = [Variant.coerce(v) for v in variants]
        if not 2 <= len(items) <= 4:
            raise ValidationError(
                f"a comparison needs 2 to 4 variants, got {len(items)}",
                field="variants",
                hint="e.g. compare(['summarise@1', 'summarise@2'])",
            )
        from workbench.errors import WorkbenchError

        runs: list[GenerationResult | None] = []
        errors: list[str | None] = []
        for i, var in enumerate(items):
            try:
                run = self.run(
                    template=var.template if var.template is not None else self.template,
                    variables=variables,
                    prompt=prompt,
                    system=var.system,
                    model=var.model,
                    bits=var.bits,
                    stream=stream,
                    on_text=(lambda t, i=i: on_text(i, t)) if on_text is not None else None,  # type: ignore[misc]
                    label=var.describe(i),
                    coerce=coerce,
                    **dict(var.params),
                )
                runs.append(run)
                errors.append(None)
            except WorkbenchError as exc:
                if raise_errors:
                    raise
                runs.append(None)
                errors.append(str(exc))
            if on_result is not None:
                on_result(i, runs[-1], errors[-1])
        return Comparison(items, runs, errors)

    # --------------------------------------------------------------------------------------------- history

    def _remember(self, result: GenerationResult) -> None:
        with self._lock:
            self.history.append(result)
            if len(self.history) > self.history_limit:
                del self.history[: len(self.history) - self.history_limit]

    def clear_history(self) -> None:
        """Forget every run (telemetry keeps its events)."""
        with self._lock:
            self.history.clear()

    def history_frame(self) -> Any:
        """The history as a pandas DataFrame (one row per run)."""
        import pandas as pd

        return pd.DataFrame(
            [{"id": r.id, "label": r.label, "model": r.model, "template": r.template, "status": r.status,
              "text": r.text, **r.metrics()} for r in self.history]
        )
