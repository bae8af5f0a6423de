"""The prompting playground widget (anywidget): a thin view over :class:`workbench.prompting.Playground`.

State lives in synced traits (model, template, variables, system prompt, parameters, output, status, history,
comparison), so the view can be rebuilt from state alone; the front end sends only actions
(``{"action": "run" | "compare" | "clear_history"}``). Actions from the browser run in a worker thread and
mirror progress into traits (:class:`~workbench.widgets.action.ActionWidget`: errors show in ``error``);
:meth:`PlaygroundWidget.run` and :meth:`PlaygroundWidget.compare` do the same work synchronously, so notebooks
run headless under papermill or nbclient with no browser::

    w = PlaygroundWidget(template="summarise", variables={"text": report}, temperature=0.2)
    w                      # shows the form in JupyterLab
    w.run()                # works without a browser too; w.output, w.last_run, w.history
    w.compare(["summarise@1", "summarise@2"])
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import traitlets

from workbench.errors import PolicyViolation, WorkbenchError
from workbench.prompting import Comparison, GenerationResult, Playground, Variant, list_templates
from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/playground.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = (
    "models",
    "model",
    "bits",
    "templates",
    "template",
    "variables",
    "system",
    "prompt",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
    "stream",
    "status",
    "output",
    "error",
    "last_run",
    "history",
    "variants",
    "comparison",
)


class PlaygroundWidget(ActionWidget):
    """Prompt playground: pick a model and template, fill variables, run (streamed), compare, see history.

    Args:
        model: Model name (default ``settings.default_model``).
        template: Template ``id`` or ``id@version``; ``""`` for a free prompt.
        variables: Template variable values (the template's defaults fill the rest).
        prompt: Free prompt text.
        system: System prompt; default the template's.
        models: Extra model names offered in the picker.
        playground: An existing :class:`Playground` to drive (its guard and history are used).
        **kwargs: Any other trait (temperature, top_p, max_new_tokens, seed, bits, stream, variants).
    """

    _esm = widget_esm("playground.js")
    _css = STATIC / "playground.css"

    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    bits = traitlets.Int(None, allow_none=True).tag(sync=True)
    templates = traitlets.List(traitlets.Dict()).tag(sync=True)
    template = traitlets.Unicode("").tag(sync=True)
    variables = traitlets.Dict().tag(sync=True)
    system = traitlets.Unicode("").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    temperature = traitlets.Float(0.0).tag(sync=True)
    top_p = traitlets.Float(1.0).tag(sync=True)
    max_new_tokens = traitlets.Int(64).tag(sync=True)
    seed = traitlets.Int(None, allow_none=True).tag(sync=True)
    stream = traitlets.Bool(True).tag(sync=True)
    output = traitlets.Unicode("").tag(sync=True)
    last_run = traitlets.Dict().tag(sync=True)
    history = traitlets.List(traitlets.Dict()).tag(sync=True)
    variants = traitlets.List(traitlets.Dict()).tag(sync=True)
    comparison = traitlets.List(traitlets.Dict()).tag(sync=True)

    background_actions: ClassVar[frozenset[str]] = frozenset({"run", "compare"})

    def __init__(
        self,
        model: str | None = None,
        *,
        template: str = "",
        variables: Mapping[str, Any] | None = None,
        prompt: str = "",
        system: str | None = None,
        models: Sequence[str] = (),
        playground: Playground | None = None,
        **kwargs: Any,
    ) -> None:
        from workbench.settings import get_settings

        settings = get_settings()
        name = model or settings.default_model
        offered = list(dict.fromkeys([name, settings.default_model, *models]))
        specs = [t.spec() for t in list_templates(all_versions=True)]
        super().__init__(models=offered, model=name, templates=specs, prompt=prompt)
        self._playground = playground if playground is not None else Playground(name)
        self._busy = threading.Lock()
        self._template_system = ""
        self.observe(self._on_template, names=["template"])
        if template:
            self.template = template  # fills defaults, system prompt and parameters via the observer
        if variables:
            self.variables = {**self.variables, **dict(variables)}
        if system is not None:
            self.system = system
        # Explicit arguments win over the template's recommendations (papermill parameters become defaults).
        for key, value in kwargs.items():
            if key not in FIELDS:
                raise TypeError(f"PlaygroundWidget got an unexpected argument '{key}'")
            setattr(self, key, value)

    @property
    def playground(self) -> Playground:
        """The :class:`Playground` this widget drives."""
        return self._playground

    # -------------------------------------------------------------------------------------------- observers

    def _on_template(self, change: dict[str, Any]) -> None:
        try:
            tpl = self._playground.get_template(change["new"] or None)
        except WorkbenchError as exc:
            self.report_error(exc)
            return
        if tpl is None:
            self._template_system = ""
            return
        self._template_system = tpl.system or ""
        self.system = self._template_system
        defaults = tpl.defaults()
        declared = {v.name for v in tpl.variables}
        kept = {k: v for k, v in self.variables.items() if k in declared}
        self.variables = {**{k: _jsonable(v) for k, v in defaults.items()}, **kept}
        params = tpl.parameters.as_dict()
        for key in ("temperature", "top_p", "max_new_tokens"):
            if key in params:
                setattr(self, key, params[key])

    def actions(self) -> Mapping[str, Handler]:
        """The front end's actions; runs and comparisons go to a worker thread (see :class:`ActionWidget`)."""
        return {
            "run": lambda _content: self.run(),
            "compare": lambda content: self.compare(_typed_variants(content)),
            "clear_history": lambda _content: self.clear_history(),
        }

    def error_status(self, exc: BaseException) -> str:
        """``blocked`` when a guardrail refused the run, else ``error``."""
        return "blocked" if isinstance(exc, PolicyViolation) else "error"

    # -------------------------------------------------------------------------------------------------- run

    def run(self, *, raise_errors: bool = True) -> GenerationResult | None:
        """Run the current settings once (streamed into :attr:`output` when :attr:`stream`), headless or not.

        Returns:
            The run, or ``None`` when it failed and ``raise_errors`` is false (the message is in :attr:`error`).
        """
        with self._busy:
            return self.perform(self._run_locked, raise_errors=raise_errors)

    def compare(
        self, variants: Sequence[Variant | str | Mapping[str, Any]] | None = None, *, raise_errors: bool = True
    ) -> Comparison | None:
        """Run 2-4 variants (default: :attr:`variants`) side by side on the current inputs; fills :attr:`comparison`."""
        if variants is not None:
            self.variants = [_variant_dict(Variant.coerce(v)) for v in variants]
        with self._busy:
            return self.perform(self._compare_locked, raise_errors=raise_errors)

    def clear_history(self) -> None:
        """Forget the history (telemetry keeps its events)."""
        self._playground.clear_history()
        self.history = []

    def _run_kwargs(self) -> dict[str, Any]:
        system = self.system if self.template and self.system != self._template_system else None
        if not self.template:
            system = self.system or None
        return {
            "template": self.template or "",
            "variables": dict(self.variables) if self.template else None,
            "prompt": self.prompt,
            "system": system,
            "model": self.model or None,
            "bits": self.bits,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "coerce": True,
        }

    def _run_locked(self) -> GenerationResult:
        self.status, self.error, self.output = "running", "", ""
        result = self._playground.run(stream=self.stream, on_text=self._append_output, **self._run_kwargs())
        self.output = result.text
        self.last_run = _summary(result)
        self.history = [*self.history, _summary(result)][-self._playground.history_limit :]
        self.status = "blocked" if result.status == "blocked" else "done"
        return result

    def _append_output(self, piece: str) -> None:
        self.output = self.output + piece

    def _compare_locked(self) -> Comparison:
        variants = [Variant.coerce(v) for v in self.variants]
        self.status, self.error, self.output, self.last_run = "running", "", "", {}
        self.comparison = [
            {"label": v.describe(i), "text": "", "status": "pending", "error": None} for i, v in enumerate(variants)
        ]
        kwargs = self._run_kwargs()
        shared_vars = kwargs["variables"] if kwargs["variables"] is not None else dict(self.variables)
        params = {k: kwargs[k] for k in ("temperature", "top_p", "max_new_tokens", "seed")}

        def on_text(i: int, piece: str) -> None:
            rows = [dict(r) for r in self.comparison]
            rows[i]["text"] += piece
            rows[i]["status"] = "running"
            self.comparison = rows

        def on_result(i: int, run: GenerationResult | None, err: str | None) -> None:
            rows = [dict(r) for r in self.comparison]
            rows[i] = {"label": rows[i]["label"], "status": "error" if err else (run.status if run else "error"),
                       "error": err, "text": run.text if run else "", **(_summary(run) if run else {})}  # fmt: skip
            self.comparison = rows
            if run is not None:
                self.history = [*self.history, _summary(run)][-self._playground.history_limit :]

        merged = [
            Variant(
                template=v.template if v.template is not None else kwargs["template"],
                model=v.model or kwargs["model"],
                bits=v.bits if v.bits is not None else kwargs["bits"],
                system=v.system if v.system is not None else kwargs["system"],
                params={**params, **dict(v.params)},
                label=v.describe(i),
            )
            for i, v in enumerate(variants)
        ]
        result = self._playground.compare(
            merged,
            variables=shared_vars,
            prompt=self.prompt,
            stream=self.stream,
            on_text=on_text,
            on_result=on_result,
            coerce=True,
        )
        self.status = "done" if not any(result.errors) else "error"
        if any(result.errors):
            self.error = "; ".join(e for e in result.errors if e)
        return result


def _typed_variants(content: Mapping[str, Any]) -> list[str] | None:
    """The Compare box's lines as the learner typed them (``None``: the box is empty, keep :attr:`variants`)."""
    lines = [str(line).strip() for line in content.get("lines") or ()]
    return [line for line in lines if line] or None


def _summary(run: GenerationResult) -> dict[str, Any]:
    return {
        "id": run.id,
        "label": run.label,
        "model": run.model,
        "template": run.template,
        "status": run.status,
        "text": run.text,
        "prompt": run.prompt,
        "started_at": run.started_at,
        "finish_reason": run.finish_reason,
        "bits": run.bits,
        "decisions": [{"check": d["check"], "action": d["action"], "kinds": d["kinds"]} for d in run.decisions],
        "notes": run.notes,
        **run.metrics(),
    }


def _variant_dict(v: Variant) -> dict[str, Any]:
    return {"template": v.template, "model": v.model, "bits": v.bits, "system": v.system, "params": dict(v.params),
            "label": v.label}  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
