"""Stop, resume, early stopping, running out of memory, telemetry and bad input: clear errors, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import write_jsonl

from workbench.cli import main
from workbench.errors import ConfigError, ContextLengthError, RunError, ValidationError
from workbench.tuning import StopSignal, TrainingCallback, train
from workbench.tuning.checkpoint import list_checkpoints, read_trainer_state

pytestmark = pytest.mark.slow


class StopAt(TrainingCallback):
    def __init__(self, signal: StopSignal, step: int) -> None:
        self.signal, self.step = signal, step

    def on_step_end(self, metrics: Any) -> None:
        if metrics.step == self.step:
            self.signal.request("test stop")


class OutOfMemoryAt(TrainingCallback):
    """Fault injection: the device runs out of memory when step ``step`` begins."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, step: int) -> None:
        import torch

        if step == self.step:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (injected by the test)"
            )


def _adapter_tensors(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_stop_keeps_a_checkpoint_and_resume_matches_an_uninterrupted_run(
    make_config: Callable[..., Any],
) -> None:
    import torch

    straight = train(make_config("lora", out=Path.cwd() / "straight"))
    assert straight.status == "completed"

    signal = StopSignal()
    config = make_config("lora")
    stopped = train(config, callbacks=[StopAt(signal, 3)], stop=signal)
    assert stopped.status == "stopped" and stopped.card.timing["steps"] == 3
    kept = list_checkpoints(stopped.output_dir)
    assert [p.name for p in kept] == ["step-0000003"]
    assert read_trainer_state(kept[-1])["step"] == 3
    assert (stopped.output_dir / "adapter" / "adapter_model.safetensors").is_file()  # usable right away
    assert "stopped at step 3: test stop" in stopped.card.notes

    resumed = train(config)  # same config: resumes from step 3
    assert resumed.status == "completed" and resumed.card.timing["resumed_from_steps"] == [3]
    assert [p["step"] for p in resumed.card.loss_curve] == [1, 2, 3, 4, 5, 6]
    a, b = _adapter_tensors(straight.adapter_dir), _adapter_tensors(resumed.adapter_dir)  # type: ignore[arg-type]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    assert [p["loss"] for p in resumed.card.loss_curve] == pytest.approx(
        [p["loss"] for p in straight.card.loss_curve], abs=1e-5
    )


def test_out_of_memory_mid_run_fails_cleanly_and_keeps_the_checkpoint(
    make_config: Callable[..., Any],
) -> None:
    config = make_config("qlora-4bit", **{"training.save_every": 2})
    with pytest.raises(RunError) as info:
        train(config, callbacks=[OutOfMemoryAt(4)])
    err = info.value
    assert "out of memory at step 4" in err.message
    assert err.hint and "workbench tune plan" in err.hint and "resume" in err.hint
    out = config.resolved_output_dir()
    card = json.loads((out / "run_card.json").read_text())
    assert card["status"] == "failed"
    assert card["error"]["type"] == "OutOfMemoryError" and card["error"]["step"] == 4
    assert [p.name for p in list_checkpoints(out)] == [
        "step-0000002",
        "step-0000003",
    ]  # periodic + last good step
    assert card["checkpoints"]["last"].endswith("step-0000003")
    assert len(card["loss_curve"]) == 3
    assert not (out / "adapter").exists()

    resumed = train(config)  # nothing lost: the next run picks up at step 3
    assert resumed.status == "completed" and resumed.card.timing["resumed_from_steps"] == [3]


class OutOfMemoryInForward(TrainingCallback):
    """Fault injection inside the model: the forward pass of step ``step`` runs out of memory."""

    def __init__(self, step: int) -> None:
        self.step, self.armed = step, False

    def on_train_begin(self, info: Any) -> None:
        import torch

        def hook(module: Any, args: Any) -> None:
            if self.armed:
                raise torch.OutOfMemoryError("out of memory (injected in the forward pass)")

        info.model.register_forward_pre_hook(hook)

    def on_step_begin(self, step: int) -> None:
        self.armed = step == self.step


def test_out_of_memory_inside_a_step_resumes_at_the_same_data(make_config: Callable[..., Any]) -> None:
    import torch

    config = make_config("lora", **{"training.gradient_accumulation_steps": 2, "training.batch_size": 4})
    straight = train(config.replace(output_dir=str(Path.cwd() / "straight")))
    with pytest.raises(RunError, match="out of memory at step 3"):
        train(config, callbacks=[OutOfMemoryInForward(3)])
    last = list_checkpoints(config.resolved_output_dir())[-1]
    assert last.name == "step-0000002" and read_trainer_state(last)["micro_batches"] == 4
    resumed = train(config)
    a, b = _adapter_tensors(straight.adapter_dir), _adapter_tensors(resumed.adapter_dir)  # type: ignore[arg-type]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


def test_early_stopping_with_a_held_out_split(make_config: Callable[..., Any]) -> None:
    config = make_config(
        "lora",
        **{
            "data.eval": None,  # hold out data.eval_fraction of the training file instead
            "training.eval_every": 1,
            "training.early_stopping_patience": 2,
            "training.early_stopping_min_delta": 100.0,
        },
    )
    result = train(config)
    assert result.status == "early_stopped"
    assert result.card.timing["steps"] == 3  # best at step 1, then two evaluations without improvement
    assert any("early stopping at step 3" in note for note in result.card.notes)
    assert result.card.checkpoints["best_eval_step"] == 1
    assert (result.card.dataset["train_examples"], result.card.dataset["eval_examples"]) == (151, 17)
    assert result.card.dataset["eval"] is None


def test_every_step_and_the_run_become_telemetry(make_config: Callable[..., Any]) -> None:
    from workbench.telemetry import get_recorder, open_store

    result = train(make_config("lora"))
    get_recorder().flush()
    with open_store() as store:
        steps = store.query(kind="training_step", run_id=result.card.run_id)
        runs = store.query(kind="training_run", run_id=result.card.run_id)
    assert [e.attributes["step"] for e in steps] == [1, 2, 3, 4, 5, 6]
    first = steps[0].attributes
    for key in ("loss", "learning_rate", "tokens", "tokens_per_s", "step_time_s", "memory_bytes", "eta_s"):
        assert key in first
    assert len(runs) == 1 and runs[0].status == "completed"
    run = runs[0].attributes
    assert (
        run["method"] == "lora"
        and run["steps"] == 6
        and run["dataset_sha256"] == result.card.dataset["sha256"]
    )
    assert run["peak_memory_bytes"] > 0 and run["estimated_memory_bytes"] > 0


def test_an_earlier_run_is_not_overwritten(make_config: Callable[..., Any]) -> None:
    config = make_config("lora", **{"training.max_steps": 2})
    train(config)
    with pytest.raises(ConfigError, match="holds checkpoints of an earlier run"):
        train(config, resume=False)
    with pytest.raises(ConfigError, match="different model, method, data"):
        train(config.replace(**{"method.rank": 4}))
    assert train(config.replace(**{"method.rank": 4}), overwrite=True).status == "completed"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def test_bad_input_through_the_cli(
    tmp_path: Path, make_config: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_config("lora")

    def config_with(**changes: Any) -> str:
        return str(base.replace(**changes).save(tmp_path / "c.json"))

    bad = write_jsonl(
        tmp_path / "bad.jsonl", ['{"instruction": "a", "output": "b"}', "{oops", '{"output": "x"}']
    )
    code, err = _cli(["tune", "run", config_with(**{"data.train": str(bad)}), "--json"], capsys)
    assert code == 2 and err["error"] == "ValidationError" and err["line"] == 2
    assert "line 2: not valid JSON" in err["message"] and "line 3: missing 'instruction'" in err["message"]

    empty = write_jsonl(tmp_path / "empty.jsonl", [""])
    code, err = _cli(["tune", "run", config_with(**{"data.train": str(empty)}), "--json"], capsys)
    assert code == 2 and "no examples" in err["message"]

    code, err = _cli(
        ["tune", "run", config_with(**{"method.target_modules": ["q_proj", "c_attn"]}), "--json"], capsys
    )
    assert code == 2 and err["field"] == "method.target_modules" and "'c_attn'" in err["message"]

    path = tmp_path / "rank0.yaml"
    path.write_text((Path(base.data.train).parent / "lora.yaml").read_text().replace("rank: 16", "rank: 0"))
    code, err = _cli(["tune", "run", str(path), "--json"], capsys)
    assert code == 2 and err["field"] == "method.rank" and err["line"] is not None

    code, err = _cli(["tune", "run", config_with(**{"data.max_length": 40}), "--json"], capsys)
    assert (
        code == 2
        and err["error"] == "ContextLengthError"
        and "longer than the 40-token limit" in err["message"]
    )
    assert not list((Path(base.output_dir)).glob("checkpoints/*")), "nothing trained on bad input"

    code, _ = _cli(["tune", "validate", str(bad)], capsys)
    assert code == 2


def test_errors_in_the_library_api(make_config: Callable[..., Any], tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        train(make_config("lora", **{"data.train": str(write_jsonl(tmp_path / "e.jsonl", ["  "]))}))
    with pytest.raises(ContextLengthError):
        train(make_config("lora", **{"data.max_length": 40}))


def test_qlora_falls_back_to_16_bit_lora_where_bitsandbytes_cannot_run(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.tuning import PlanRequest, _runtime, plan_memory

    def unsupported(kind: str | None) -> tuple[bool, str]:
        return False, "bitsandbytes does not support this device"

    monkeypatch.setattr(_runtime, "quantization_support", unsupported)
    result = train(make_config("qlora-4bit", **{"training.max_steps": 2, "training.optimizer": "adamw8bit"}))
    assert result.status == "completed"
    card = result.card
    assert card.method["bits"] == 16 and card.quantization["dtype"] == "bfloat16"
    assert card.quantization["fallback_from"] == "qlora-4bit"
    assert any("cannot run on cpu" in n and "fell back to 16-bit LoRA" in n for n in card.notes)
    assert any("using torch AdamW" in n for n in card.notes)
    plan = plan_memory(PlanRequest(model="workbench-tiny", bits=4, optimizer="adamw8bit"), device="cpu")
    assert plan.request.bits == 16 and plan.request.optimizer == "adamw"
    assert any("planning 16-bit LoRA" in n for n in plan.notes)
