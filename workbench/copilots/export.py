"""Exporting a copilot for other runtimes: a merged model folder, an Ollama ``Modelfile``, and its settings.

``export_copilot(spec, out)`` writes::

    out/
      model/             config.json, model.safetensors, tokenizer files, chat_template.jinja, generation_config.json
                         (the LoRA adapter merged into an unquantized base; loads with transformers'
                         AutoModelForCausalLM.from_pretrained, vLLM and Ollama's safetensors import)
      Modelfile          FROM ./model, the system prompt, sampling parameters and stop strings
      copilot.json       the spec, and the prompt (system, user-turn template, variables, parameters), retrieval
                         (index folder, mode, k, embedder) and guardrail settings an application re-applies
      prompt-template.yaml  the versioned template the copilot renders with (when it has one)
      README.md          how to load it

The model runs in its natural precision (a spec's ``bits: 4`` is a loading choice, not part of the weights:
quantize in the target runtime, e.g. ``ollama create NAME -f Modelfile --quantize q4_K_M``). What the Modelfile
cannot carry (the template's user-turn wrapper, retrieval, the guard) is in ``copilot.json``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.copilots.runtime import Copilot
from workbench.copilots.spec import CopilotSpec
from workbench.errors import ModelError, ValidationError

#: Ollama's template for ChatML models (SmolLM2 and others whose chat template uses ``<|im_start|>``).
CHATML_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- if and (eq $i 0) (ne .Role \"system\") $.System }}<|im_start|>system\n{{ $.System }}<|im_end|>\n{{ end }}"
    "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)


@dataclass(frozen=True)
class ExportResult:
    """Where an export went."""

    copilot: str
    out_dir: str
    model_dir: str
    modelfile: str
    settings: str
    merged_adapter: bool
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def export_copilot(
    copilot: Copilot | CopilotSpec | str | Path, out: str | Path, *, overwrite: bool = False
) -> ExportResult:
    """Export a copilot (see the module docstring).

    Args:
        copilot: A :class:`Copilot`, a spec, or a spec path.
        out: The folder to write; it must be empty or missing unless ``overwrite``.
        overwrite: Replace what is in ``out``.

    Raises:
        ValidationError: ``out`` holds files and ``overwrite`` is not set.
        ModelError: The model has no local weights (an ``openai:`` endpoint).
    """
    cop = copilot if isinstance(copilot, Copilot) else Copilot(copilot)
    spec = cop.spec
    folder = Path(out).expanduser()
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise ValidationError(
                f"'{folder}' already exists and is not empty", file=folder, hint="pick another --out, or pass --force"
            )
        shutil.rmtree(folder)
    model_dir = folder / "model"
    merged = _write_model(cop, model_dir)
    template_file = _write_template(cop, folder)
    settings = prompt_settings(cop)
    settings["template_file"] = template_file.name if template_file else None
    (folder / "copilot.json").write_text(json.dumps(settings, indent=2, default=str) + "\n", encoding="utf-8")
    (folder / "Modelfile").write_text(modelfile(spec, settings, model_dir), encoding="utf-8")
    (folder / "README.md").write_text(_readme(spec), encoding="utf-8")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return ExportResult(spec.ref, str(folder), str(model_dir), str(folder / "Modelfile"),
                        str(folder / "copilot.json"), merged, files)  # fmt: skip


def _write_model(copilot: Copilot, model_dir: Path) -> bool:
    """The model folder: the adapter merged into its base, or the base saved as is. Whether it merged."""
    spec = copilot.spec
    if spec.model.adapter is not None:
        from workbench.tuning import merge_adapter

        merge_adapter(spec.model.adapter, model_dir, base=spec.model.name)
        return True
    from workbench.models import load_model

    # Natural precision on the CPU: the weights as trained, whatever bits the copilot is served in.
    backend = load_model(spec.model.name, device="cpu")
    model, tokenizer = getattr(backend, "model", None), getattr(backend, "tokenizer", None)
    if model is None or tokenizer is None:
        raise ModelError(
            f"the model '{spec.model.name}' has no local weights to export",
            field="model.name",
            hint="export a copilot whose model is a local or built-in model (not an openai: endpoint)",
        )
    model.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))
    return False


def _write_template(copilot: Copilot, folder: Path) -> Path | None:
    template = copilot.template
    if template is None or template.source is None:
        return None
    target = folder / "prompt-template.yaml"
    shutil.copyfile(template.source, target)
    return target


def prompt_settings(copilot: Copilot) -> dict[str, Any]:
    """The settings an application needs to answer like the copilot: prompt, parameters, retrieval, guard."""
    spec, template = copilot.spec, copilot.template
    slots = copilot.slots
    system = spec.prompt.system if spec.prompt.system is not None else (template.system if template else None)
    parameters = {**(template.parameters.as_dict() if template else {}), **spec.prompt.parameters.as_dict()}
    retrieval = None
    if spec.retrieval is not None:
        from workbench.rag import read_info

        info = read_info(spec.retrieval.index)
        retrieval = {"index": str(spec.retrieval.index), "mode": spec.retrieval.mode, "k": copilot.k,
                     "embedder": info.get("embedder"), "chunking": info.get("chunking")}  # fmt: skip
    return {
        "copilot": spec.ref,
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "model": {
            "base": spec.model.name,
            "adapter": str(spec.model.adapter) if spec.model.adapter else None,
            "serving_bits": spec.model.bits,
        },
        "prompt": {
            "template": template.ref if template else None,
            "system": system,
            "user_template": template.template if template else None,
            "question_variable": slots.question if slots else None,
            "context_variable": slots.context if slots else None,
            "variables": spec.prompt.variables,
            "examples": [e.model_dump() for e in template.examples] if template else [],
            "parameters": parameters,
        },
        "retrieval": retrieval,
        "guardrails": {"policy": str(spec.guardrails.policy) if spec.guardrails.policy else "built-in default"},
        "spec": spec.to_dict(),
    }


def _tokenizer_files(model_dir: Path) -> tuple[str, list[str]]:
    """The exported chat template and end-of-sequence token (from the saved tokenizer files)."""
    config_file = model_dir / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    template_file = model_dir / "chat_template.jinja"
    template = template_file.read_text(encoding="utf-8") if template_file.is_file() else str(config.get("chat_template") or "")
    eos = config.get("eos_token")
    eos = eos.get("content") if isinstance(eos, dict) else eos
    stops = [eos] if isinstance(eos, str) and eos else []
    return template, [*stops, *_end_of_turn_tokens(model_dir)]


def _end_of_turn_tokens(model_dir: Path) -> list[str]:
    """Tokens the generation config ends on (an end-of-turn token besides the tokenizer's EOS, say)."""
    generation, tokenizer = model_dir / "generation_config.json", model_dir / "tokenizer.json"
    if not generation.is_file() or not tokenizer.is_file():
        return []
    ids = json.loads(generation.read_text(encoding="utf-8")).get("eos_token_id")
    ids = ids if isinstance(ids, list) else [ids]
    added = json.loads(tokenizer.read_text(encoding="utf-8")).get("added_tokens") or []
    names = {t.get("id"): t.get("content") for t in added}
    return [names[i] for i in ids if isinstance(names.get(i), str)]


def modelfile(spec: CopilotSpec, settings: dict[str, Any], model_dir: Path) -> str:
    """An Ollama Modelfile importing ``model_dir`` (as ``./model``) with the copilot's system prompt and parameters."""
    prompt = settings["prompt"]
    chat_template, eos = _tokenizer_files(model_dir)
    lines = [
        f"# Ollama Modelfile of the Workbench copilot {spec.ref} (written by 'workbench copilot export').",
        f"# Import: ollama create {spec.id} -f Modelfile   (add --quantize q4_K_M for a 4-bit copy)",
        "# The user-turn template, retrieval and guardrails are not part of it: see copilot.json.",
        "FROM ./model",
    ]
    if "<|im_start|>" in chat_template:
        lines.append(f'TEMPLATE """{CHATML_TEMPLATE}"""')
    else:
        lines.append("# TEMPLATE: Ollama reads the chat template from the tokenizer files in ./model")
    if prompt["system"]:
        lines.append(f'SYSTEM """{prompt["system"]}"""')
    params = prompt["parameters"]
    lines.append(f"PARAMETER temperature {params.get('temperature', 0.0)}")
    if "top_p" in params:
        lines.append(f"PARAMETER top_p {params['top_p']}")
    if "max_new_tokens" in params:
        lines.append(f"PARAMETER num_predict {params['max_new_tokens']}")
    stops = list(dict.fromkeys([*(params.get("stop") or []), *eos]))
    lines.extend(f"PARAMETER stop {json.dumps(s)}" for s in stops)
    return "\n".join(lines) + "\n"


def _readme(spec: CopilotSpec) -> str:
    return f"""# {spec.ref}: exported Workbench copilot

{spec.title or spec.id}. {spec.description}

- `model/`: the model (safetensors, tokenizer, chat template). Load it with transformers:

  ```python
  from transformers import AutoModelForCausalLM, AutoTokenizer
  model = AutoModelForCausalLM.from_pretrained("model")
  tokenizer = AutoTokenizer.from_pretrained("model")
  ```

  or serve it with vLLM (`vllm serve ./model`).
- `Modelfile`: `ollama create {spec.id} -f Modelfile` imports it into Ollama with the copilot's system prompt and
  sampling parameters.
- `copilot.json`: the prompt (system prompt, user-turn template, parameters), retrieval and guardrail settings
  that make answers match the copilot's; `prompt-template.yaml` is the template itself.
"""
