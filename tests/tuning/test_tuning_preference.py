"""DPO (TRL) on the built-in tiny model: the preference loss falls from log 2 and the chosen-vs-rejected margin rises.

Six steps on eight shipped support-reply pairs: about 20-35 s on a busy 2-core machine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tuning_helpers import ROOT, write_jsonl

from workbench.errors import ConfigError, ValidationError
from workbench.tuning import PreferenceConfig, load_preferences, load_tuned, train_preferences

PAIRS = ROOT / "datasets" / "finetune" / "support-replies" / "train.jsonl"


def test_dpo_raises_the_margin_of_chosen_over_rejected_and_saves_a_safetensors_adapter(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    few = write_jsonl(tmp_path / "pairs.jsonl", PAIRS.read_text(encoding="utf-8").splitlines()[:8])
    config = PreferenceConfig(model="workbench-tiny", train=str(few), output_dir=str(tmp_path / "dpo"), max_steps=6,
                              batch_size=4, learning_rate=5e-3, max_length=96, num_threads=1)  # fmt: skip
    result = train_preferences(config)

    loss, margin, accuracy = result.series("loss"), result.series("margin"), result.series("accuracy")
    assert len(loss) == 6
    # Step one: the policy is the reference, so the DPO loss is log 2 and the margin 0.
    assert loss[0] == pytest.approx(math.log(2), abs=1e-3) and margin[0] == pytest.approx(0.0, abs=1e-3)
    assert max(loss[-3:]) < 0.5 * loss[0] and min(margin[-3:]) > 1.0 and accuracy[-1] == 1.0
    files = set(result.files)
    assert "adapter_model.safetensors" in files and not any(f.endswith((".bin", ".pt")) for f in files)
    saved = json.loads((result.adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert saved["base_model_name_or_path"] == "workbench-tiny" and saved["r"] == 8
    # The adapter loads like any LoRA run's and answers.
    assert load_tuned(result.adapter_dir).generate("My VPN keeps disconnecting.", max_new_tokens=8).text is not None
    with pytest.raises(ConfigError, match="already holds an adapter"):
        train_preferences(config)


def test_bad_preference_files_and_configs_are_named(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [
        '{"prompt": "VPN drops", "chosen": "Restart the client.", "rejected": "No."}',
        '{"prompt": "VPN drops", "chosen": "Same.", "rejected": "Same."}',
        '{"prompt": "", "chosen": "x", "rejected": "y"}',
        "not json",
    ])  # fmt: skip
    with pytest.raises(ValidationError) as info:
        load_preferences(bad)
    message = str(info.value)
    assert "bad.jsonl:2 (rejected)" in message and "bad.jsonl:3 (prompt)" in message and "bad.jsonl:4: not JSON" in message
    assert [p.chosen for p in load_preferences(PAIRS)][:1] and len(load_preferences(PAIRS)) == 40
    with pytest.raises(ConfigError, match="beta"):
        PreferenceConfig(model="workbench-tiny", train=str(PAIRS), output_dir=str(tmp_path), beta=0)
