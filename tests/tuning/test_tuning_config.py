"""Tune configs: frozen, documented, versioned; bad fields are named with their file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import ConfigError, NotFoundError
from workbench.tuning import CONFIG_VERSION, LoRAConfig, QLoRAConfig, TuneConfig, load_config
from workbench.tuning.config import EvaluationConfig, TrainingConfig


@pytest.mark.parametrize("name", ["lora", "qlora-4bit", "qlora-8bit"])
def test_shipped_configs_load(house_dir: Path, name: str) -> None:
    config = load_config(house_dir / f"{name}.yaml")
    assert config.version == CONFIG_VERSION
    assert config.data.train.is_absolute() and config.data.train.is_file()
    assert config.data.eval is not None and config.data.eval.is_file()
    expected = {"lora": (LoRAConfig, 32), "qlora-4bit": (QLoRAConfig, 4), "qlora-8bit": (QLoRAConfig, 8)}[
        name
    ]
    assert isinstance(config.method, expected[0])
    assert config.method.bits == expected[1]


def test_configs_are_frozen_and_documented() -> None:
    config = LoRAConfig()
    with pytest.raises(Exception, match="frozen"):
        config.rank = 4  # type: ignore[misc]
    for cls in (LoRAConfig, QLoRAConfig, TrainingConfig, EvaluationConfig, TuneConfig):
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"
        assert cls.__doc__ and "Attributes:" in cls.__doc__


def test_save_round_trip_stamps_versions(tmp_path: Path, house_dir: Path) -> None:
    config = load_config(house_dir / "qlora-4bit.yaml")
    path = config.save(tmp_path / "tune_config.json")
    saved = json.loads(path.read_text())
    assert saved["saved_with"]["config_version"] == str(CONFIG_VERSION)
    assert "peft" in saved["saved_with"] and "torch" in saved["saved_with"]
    assert load_config(path) == config
    assert load_config(tmp_path) == config  # a folder holding tune_config.json


def test_replace_validates_dotted_changes(house_dir: Path) -> None:
    config = load_config(house_dir / "lora.yaml")
    changed = config.replace(**{"training.max_steps": 3, "method.rank": 4})
    assert (changed.training.max_steps, changed.method.rank) == (3, 4)
    assert config.training.max_steps != 3
    with pytest.raises(ConfigError, match=r"method\.rank"):
        config.replace(**{"method.rank": 0})


def test_rank_zero_names_field_file_and_line(tmp_path: Path, house_dir: Path) -> None:
    text = (house_dir / "lora.yaml").read_text().replace("rank: 16", "rank: 0")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.field == "method.rank"
    assert err.file == str(path)
    assert err.line == next(i for i, line in enumerate(text.splitlines(), 1) if "rank: 0" in line)
    assert "greater than 0" in err.message
    assert err.hint and "positive" in err.hint


def test_unknown_field_and_bad_bits(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: {train: x.jsonl}\nmethod: {type: lora, rnak: 4}\n")
    with pytest.raises(ConfigError, match="unknown field 'rnak'") as info:
        load_config(path)
    assert info.value.line == 2
    path.write_text("data: {train: x.jsonl}\nmethod: {type: qlora, bits: 3}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "method.bits"


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(NotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_empty_target_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one module"):
        LoRAConfig(target_modules=[])
