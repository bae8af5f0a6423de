"""Fine-tuning data: JSONL validation by line number, chat templates, answer-only labels, splits, lengths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tuning_helpers import ROOT, write_jsonl

from workbench.errors import ContextLengthError, NotFoundError, ValidationError
from workbench.tuning.data import (
    IGNORE_INDEX,
    files_sha256,
    load_examples,
    split_examples,
    tokenize_examples,
    validate_file,
)

CHAT = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Answer: hello [ticket: vpn]"}]}'
INSTR = '{"instruction": "Say hi", "output": "Answer: hi [ticket: vpn]"}'


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_shipped_set_is_valid_and_reproducible(house_dir: Path) -> None:
    train = validate_file(house_dir / "train.jsonl")
    held = validate_file(house_dir / "eval.jsonl")
    assert train.ok and held.ok
    assert train.formats["instruction"] > 0 and train.formats["chat"] > 0  # both loaders exercised
    assert len(train.examples) >= 150 and len(held.examples) >= 30
    seen = {e.messages[-2]["content"] for e in train.examples}
    assert not seen & {e.messages[-2]["content"] for e in held.examples}, (
        "held-out prompts leak into training"
    )
    script = ROOT / "datasets" / "finetune" / "make_house_format.py"
    assert subprocess.run([sys.executable, str(script), "--check"], capture_output=True).returncode == 0


def test_ticket_triage_set_is_valid_reproducible_and_held_out() -> None:
    import json

    folder = ROOT / "datasets" / "finetune" / "ticket-triage"
    train, held = validate_file(folder / "train.jsonl"), validate_file(folder / "eval.jsonl")
    assert train.ok and held.ok and len(train.examples) == 360 and len(held.examples) == 90
    answers = [json.loads(e.messages[-1]["content"]) for e in train.examples + held.examples]
    assert {a["category"] for a in answers} == {"access", "hardware", "software", "network", "email", "billing"}
    assert {a["priority"] for a in answers} == {"high", "medium", "low"}
    seen = {e.messages[-2]["content"] for e in train.examples}
    assert not seen & {e.messages[-2]["content"] for e in held.examples}, "held-out tickets leak into training"
    script = folder / "make_triage.py"
    assert subprocess.run([sys.executable, str(script), "--check"], capture_output=True).returncode == 0


def test_malformed_lines_are_all_reported_by_number(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            CHAT,
            '{"instruction": "x", "output": "y"',  # truncated JSON
            "",
            INSTR,
            '{"instruction": "x"}',  # no output
            '{"messages": [{"role": "user", "content": "hi"}]}',  # no assistant answer
            '["not", "an", "object"]',
            '{"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}',
        ],
    )
    report = validate_file(path)
    assert [e.line for e in report.errors] == [2, 5, 6, 7, 8]
    assert len(report.examples) == 2
    with pytest.raises(ValidationError) as info:
        load_examples(path)
    err = info.value
    assert err.line == 2 and err.file == str(path)
    for fragment in ("5 bad line(s)", "line 2: not valid JSON", "line 5: missing 'output'",
                     "line 6: the last message must be the assistant", "line 7: expected a JSON object",
                     "line 8: messages[0].role"):  # fmt: skip
        assert fragment in err.message
    assert "2, 5, 6, 7, 8" in (err.hint or "")


def test_empty_dataset(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "empty.jsonl", ["", "// a comment", "   "])
    with pytest.raises(ValidationError, match="no examples") as info:
        load_examples(path)
    assert info.value.hint and "one JSON object per line" in info.value.hint
    with pytest.raises(NotFoundError):
        load_examples(tmp_path / "missing.jsonl")


def test_validate_cli_on_an_empty_file_says_it_is_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["tune", "validate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "the file is empty" in err and "listed above" not in err
    assert '{"instruction": ' in err and "one JSON object per line" in err
    blank = write_jsonl(tmp_path / "blank.jsonl", ["", "// only a comment"])
    assert main(["tune", "validate", str(blank)]) == 2
    err = capsys.readouterr().err
    assert "only blank or comment lines" in err and "listed above" not in err


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        INSTR.encode() + b"\n" + '{"instruction": "caf\xe9", "output": "x"}'.encode("latin-1") + b"\n"
    )
    report = validate_file(path)
    assert report.errors and report.errors[0].line == 2 and "UTF-8" in report.errors[0].message


def test_instruction_and_chat_records(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            CHAT,
            '{"instruction": "Fix", "input": "the VPN", "output": "ok", "system": "Be brief.", "id": "a1"}',
        ],
    )
    chat, instr = load_examples(path, system_prompt="House style.")
    assert chat.messages[0] == {"role": "system", "content": "House style."}
    assert instr.id == "a1" and instr.messages[0]["content"] == "Be brief."
    assert instr.messages[1]["content"] == "Fix\n\nthe VPN" and instr.answer == "ok"
    assert chat.prompt_messages[-1]["content"] == "Hi"
    with pytest.raises(ValidationError, match="missing 'instruction'"):
        load_examples(write_jsonl(tmp_path / "c.jsonl", [CHAT]), format="instruction")


def test_labels_cover_only_the_answer(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples = load_examples(write_jsonl(tmp_path / "one.jsonl", [CHAT]))
    (item,), dropped = tokenize_examples(examples, tokenizer, max_length=512)
    assert not dropped
    learnt = [t for t, label in zip(item.input_ids, item.labels, strict=True) if label != IGNORE_INDEX]
    text = tokenizer.decode(learnt)
    assert text.startswith("Answer: hello [ticket: vpn]") and "<|end|>" in text  # the model learns to stop
    assert "Hi" not in tokenizer.decode(learnt)
    (full,), _ = tokenize_examples(examples, tokenizer, max_length=512, train_on_prompt=True)
    assert all(label != IGNORE_INDEX for label in full.labels)


def test_examples_longer_than_the_context(tmp_path: Path, tokenizer) -> None:  # type: ignore[no-untyped-def]
    long = '{"instruction": "' + "word " * 400 + '", "output": "Answer: ok [ticket: vpn]"}'
    examples = load_examples(write_jsonl(tmp_path / "long.jsonl", [INSTR, long, long]))
    with pytest.raises(ContextLengthError) as info:
        tokenize_examples(examples, tokenizer, max_length=128)
    err = info.value
    assert err.line == 2 and err.field == "data.max_length"
    assert "2 example(s) are longer than the 128-token limit" in err.message and "line 3" in err.message
    assert err.hint and "overlength" in err.hint
    kept, dropped = tokenize_examples(examples, tokenizer, max_length=128, overlength="drop")
    assert len(kept) == 1 and len(dropped) == 2
    kept, dropped = tokenize_examples(examples, tokenizer, max_length=128, overlength="truncate")
    assert len(kept) == 1 and len(dropped) == 2  # truncation removed the whole answer: nothing to learn


def test_split_is_deterministic_and_disjoint(house_dir: Path) -> None:
    examples = load_examples(house_dir / "train.jsonl")
    a_train, a_eval = split_examples(examples, 0.1, seed=3)
    _, b_eval = split_examples(examples, 0.1, seed=3)
    assert [e.id for e in a_eval] == [e.id for e in b_eval]
    assert len(a_eval) == round(len(examples) * 0.1)
    assert not {e.id for e in a_train} & {e.id for e in a_eval}
    assert split_examples(examples, 0.0, seed=0) == (list(examples), [])
    assert files_sha256([house_dir / "train.jsonl"]) != files_sha256([house_dir / "eval.jsonl"])
