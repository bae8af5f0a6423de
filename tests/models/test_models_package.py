"""The package surface: lazy exports, no heavy imports, the contract's names."""

from __future__ import annotations

import subprocess
import sys

import workbench.models as models

CONTRACT = {
    "DeviceInfo",
    "detect_devices",
    "detect_device",
    "QuantizationPlan",
    "plan_quantization",
    "probe_quantization",
    "build_tiny_model",
    "load_model",
    "ChatBackend",
    "GenerationParams",
    "Generation",
    "GenerationStream",
    "Message",
    "load_embedder",
    "Embedder",
    "TINY_MODEL",
}


def test_contract_names_are_exported() -> None:
    assert set(models.__all__) >= CONTRACT
    for name in models.__all__:
        assert getattr(models, name) is not None, name
    assert models.TINY_MODEL == "workbench-tiny"


def test_all_matches_the_lazy_table() -> None:
    lazy = {name for names in models._EXPORTS.values() for name in names}
    assert set(models.__all__) == lazy | {"TINY_MODEL", "SMOLLM2_MODEL"}


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        models.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_importing_the_package_and_its_light_modules_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import workbench.models\n"
        "from workbench.models import GenerationParams, Generation, Message, detect_device, load_model\n"
        "from workbench.models import plan_quantization, build_tiny_model, load_embedder\n"
        "heavy = [m for m in ('torch', 'transformers', 'openai', 'sentence_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
