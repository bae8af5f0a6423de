"""Loading adapters never unpickles: a crafted pickle adapter is refused before torch.load could run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pickle_trap import evil_pickle, trap_torch_load

from workbench.cli import main
from workbench.errors import ModelLoadError, NotFoundError
from workbench.tuning import check_adapter_dir, evaluate_adapter, load_tuned, merge_adapter
from workbench.tuning.checkpoint import load_optimizer, save_optimizer


@pytest.fixture
def evil_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:

    folder = tmp_path / "evil-adapter"
    folder.mkdir()
    marker = tmp_path / "PWNED"
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "base_model_name_or_path": "workbench-tiny",
                "r": 8,
                "target_modules": ["q_proj"],
                "task_type": "CAUSAL_LM",
            }
        )
    )
    (folder / "adapter_model.bin").write_bytes(evil_pickle("weights", marker))
    trap_torch_load(monkeypatch)
    return folder, marker


def test_crafted_pickle_adapter_is_refused_everywhere(
    evil_adapter: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, marker = evil_adapter
    for load in (
        check_adapter_dir,
        load_tuned,
        lambda p: merge_adapter(p, p.parent / "merged"),
        evaluate_adapter,
    ):
        with pytest.raises(ModelLoadError) as info:
            load(folder)
        assert "adapter_model.bin" in info.value.message and "arbitrary code" in info.value.message
        assert info.value.hint and "safetensors" in info.value.hint
    from workbench.models import load_model

    with pytest.raises(ModelLoadError, match="refusing to load"):
        load_model(str(folder))
    assert main(["tune", "eval", str(folder), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "ModelLoadError"
    assert not marker.exists(), "the pickle payload ran"


def test_a_stray_pickle_next_to_safetensors_is_refused_too(evil_adapter: tuple[Path, Path]) -> None:
    folder, marker = evil_adapter
    (folder / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"adapter_model\.bin"):
        check_adapter_dir(folder)
    assert not marker.exists()


def test_incomplete_adapter_folders(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        check_adapter_dir(tmp_path / "nowhere")
    folder = tmp_path / "a"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match=r"no adapter_model\.safetensors"):
        check_adapter_dir(folder)
    (folder / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"no adapter_config\.json"):
        check_adapter_dir(folder)
    (folder / "adapter_config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        check_adapter_dir(folder)


def test_optimizer_state_round_trips_without_pickle(tmp_path: Path) -> None:
    import torch

    params = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(5))]
    optimizer = torch.optim.AdamW(params, lr=0.01, betas=(0.8, 0.95))
    sum((p**2).sum() for p in params).backward()  # type: ignore[union-attr]
    optimizer.step()
    save_optimizer(optimizer, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optimizer.json", "optimizer.safetensors"]
    fresh = torch.optim.AdamW([torch.nn.Parameter(p.detach().clone()) for p in params], lr=0.5)
    load_optimizer(fresh, tmp_path)
    a, b = optimizer.state_dict(), fresh.state_dict()
    assert a["param_groups"][0]["betas"] == b["param_groups"][0]["betas"] == (0.8, 0.95)
    assert b["param_groups"][0]["lr"] == 0.01
    for index in a["state"]:
        for key, value in a["state"][index].items():
            assert torch.equal(value, b["state"][index][key])
