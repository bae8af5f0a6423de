"""The playground API on the real tiny model: guarded, recorded runs, streaming, comparisons, history, errors.

The headline privacy test sends PII through every input of the playground and then searches every table and
column of the telemetry store, the audit log and the usage database for the raw values.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from workbench.errors import ContextLengthError, NotFoundError, PolicyViolation, ValidationError
from workbench.guardrails import Guard
from workbench.prompting import Playground, Variant, guarded_generate, price_of

PII = {
    "email": "ana.okafor@example.com",
    "card": "4111 1111 1111 1111",
    "phone": "+44 20 7946 0958",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "ssn": "123-45-6789",
    "ip": "203.0.113.77",
}


@pytest.fixture
def pg(tiny_model, settings) -> Playground:  # type: ignore[no-untyped-def]
    return Playground(tiny_model, max_new_tokens=8)


def flush() -> None:
    from workbench.telemetry import get_recorder

    get_recorder().flush()


def generation_events() -> list:  # type: ignore[type-arg]
    from workbench.telemetry import open_store

    flush()
    with open_store() as store:
        return store.query(kind="generation")


def test_run_returns_metrics_and_records_one_generation_event(pg: Playground) -> None:
    run = pg.run(prompt="The cat sat on the", seed=1)
    assert run.status == "ok" and isinstance(run.text, str)
    assert run.input_tokens > 0 and 0 < run.output_tokens <= 8
    assert run.latency_s > 0 and run.cost == 0.0 and run.template is None
    assert [d["check"] for d in run.decisions] == ["model", "prompt", "limits", "output"]
    events = generation_events()
    assert len(events) == 1
    ev = events[0]
    a = ev.attributes
    assert a["gen_ai.request.model"] == run.model
    assert a["gen_ai.usage.input_tokens"] == run.input_tokens
    assert a["gen_ai.usage.output_tokens"] == run.output_tokens
    assert isinstance(a["gen_ai.response.finish_reasons"], list)
    for key in ("latency_s", "ttft_s", "cost", "bits", "template"):
        assert key in a
    assert ev.status == "ok" and ev.learner and ev.learner.startswith("p_")
    assert pg.history == [run]


def test_template_run_records_id_at_version(pg: Playground) -> None:
    run = pg.run(template="summarise@1", variables={"text": "The export failed on Monday."})
    assert run.template == "summarise@1"
    assert run.messages[0]["role"] == "system"
    assert run.params["temperature"] == 0.2  # the template's recommendation...
    assert run.params["max_new_tokens"] == 8  # ...under the playground's explicit setting
    assert generation_events()[0].attributes["template"] == "summarise@1"


def test_pii_never_reaches_telemetry_audit_or_usage_store(pg: Playground, settings) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(f"{k}: {v}." for k, v in PII.items())
    pg.run(prompt=f"Reply to this customer. {text}")
    pg.run(template="draft-reply", variables={"message": text, "facts": f"account {PII['iban']}"},
           system=f"You work for {PII['email']}.")  # fmt: skip
    pg.compare(["summarise@1", "summarise@2"], variables={"text": text})
    list(pg.stream(prompt=f"Call {PII['phone']} about card {PII['card']}"))
    flush()
    events = generation_events()
    assert len(events) == 5
    assert all("[EMAIL]" in e.attributes["prompt_redacted"] or "[PHONE]" in e.attributes["prompt_redacted"] for e in events)

    haystacks: list[str] = []
    db = Path(str(settings.store_url).removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                haystacks.extend(str(v) for v in row)
    guard_dir = settings.data_dir / "guardrails"
    haystacks.append((guard_dir / "audit.jsonl").read_text())
    with sqlite3.connect(guard_dir / "usage.db") as conn:
        haystacks.extend(str(v) for row in conn.execute("SELECT * FROM usage") for v in row)
    blob = "\n".join(haystacks)
    assert "ana.okafor" not in blob
    for kind, value in PII.items():
        assert value not in blob, kind
        assert value.replace(" ", "") not in blob, kind


def test_stream_yields_redacted_pieces_and_records_ttft(pg: Playground) -> None:
    pieces = list(pg.stream(prompt="Once upon a time", max_new_tokens=12))
    run = pg.history[-1]
    assert "".join(pieces) == run.text
    assert run.ttft_s is not None and 0 < run.ttft_s <= run.latency_s + 1e-3


def test_compare_runs_variants_on_the_same_inputs(pg: Playground) -> None:
    result = pg.compare(
        ["summarise@1", "summarise@2", Variant(template="summarise@2", params={"temperature": 0.9, "seed": 3})],
        variables={"text": "Refunds take five days.", "audience": "customer"},
    )
    assert len(result) == 3 and result.errors == [None, None, None]
    assert [r.template for r in result.runs] == ["summarise@1", "summarise@2", "summarise@2"]  # type: ignore[union-attr]
    assert result.labels[0] == "summarise@1" and "temperature=0.9" in result.labels[2]
    rows = result.rows()
    assert {"label", "text", "latency_s", "output_tokens", "cost"} <= set(rows[0])
    assert len(pg.history) == 3 and len(generation_events()) == 3


def test_variant_lines_as_typed_in_the_compare_box() -> None:
    assert Variant.parse("summarise@2") == Variant(template="summarise@2")
    assert Variant.parse("  temperature=0.2 seed=3 ") == Variant(params={"temperature": 0.2, "seed": 3})
    assert Variant.parse("model=workbench-tiny bits=8 label=small") == Variant(model="workbench-tiny", bits=8,
                                                                              label="small")  # fmt: skip
    v = Variant.parse("temperature=1.2 system=Answer in one sentence, please.")
    assert v.system == "Answer in one sentence, please." and v.params == {"temperature": 1.2}
    assert Variant.parse("system=Be terse.").describe(0) == "custom system"
    assert Variant.coerce("summarise@1 max_new_tokens=8").params == {"max_new_tokens": 8}
    for line, what in [("temp=0.2", "unknown setting 'temp'"), ("seed=x", "seed='x' is not a int"),
                       ("summarise@1 summarise@2", "two template references"), ("   ", "nothing to vary")]:
        with pytest.raises(ValidationError, match=re.escape(what)) as err:
            Variant.parse(line)
        assert "temperature=0.2 seed=1" in (err.value.hint or ""), err.value.hint


def test_compare_needs_two_to_four_variants(pg: Playground) -> None:
    with pytest.raises(ValidationError, match="2 to 4"):
        pg.compare(["summarise@1"])
    with pytest.raises(ValidationError, match="2 to 4"):
        pg.compare(["summarise@1"] * 5)


def test_compare_keeps_going_when_one_variant_fails(pg: Playground) -> None:
    result = pg.compare(["summarise@1", "nope@1"], variables={"text": "x"})
    assert result.runs[0] is not None and result.runs[1] is None
    assert "unknown template" in (result.errors[1] or "")


def test_history_is_bounded_and_clearable(tiny_model) -> None:  # type: ignore[no-untyped-def]
    pg = Playground(tiny_model, max_new_tokens=2, history_limit=2)
    for word in ("a", "b", "c"):
        pg.run(prompt=word)
    assert [r.prompt for r in pg.history] == ["b", "c"]
    pg.clear_history()
    assert pg.history == []


def test_empty_prompt(pg: Playground) -> None:
    with pytest.raises(ValidationError, match="empty"):
        pg.run(prompt="   ")
    with pytest.raises(ValidationError, match="empty"):
        pg.run()


def test_prompt_longer_than_the_context(pg: Playground, tiny_model) -> None:  # type: ignore[no-untyped-def]
    long_prompt = "word " * (tiny_model.context_length * 2)
    with pytest.raises(ContextLengthError) as err:
        pg.run(prompt=long_prompt)
    assert str(tiny_model.context_length) in err.value.message and err.value.hint
    assert generation_events() == []
    # The refused request does not count against the learner's rate limit.
    pre = pg.guard.preflight("x", model=tiny_model.name)
    assert pg.guard.limiter.usage(pre.learner)["requests_last_minute"] == 1


def test_max_new_tokens_is_clipped_to_the_context(tiny_model) -> None:  # type: ignore[no-untyped-def]
    prompt = "word " * (tiny_model.context_length // 2)
    run = Playground(tiny_model).run(prompt=prompt, max_new_tokens=tiny_model.context_length)
    assert run.params["max_new_tokens"] == tiny_model.context_length - run.input_tokens
    assert run.notes and "clipped" in run.notes[0]


def test_unknown_template_and_bad_variables(pg: Playground) -> None:
    with pytest.raises(NotFoundError):
        pg.run(template="no-such-template")
    with pytest.raises(ValidationError, match="missing the required variable 'ticket'"):
        pg.run(template="classify-ticket")
    with pytest.raises(ValidationError, match="must be an integer"):
        pg.run(template="summarise@2", variables={"text": "x", "max_words": "lots"})


def test_denied_model_is_refused_before_generation(tiny_model, settings) -> None:  # type: ignore[no-untyped-def]
    guard = Guard({"models": {"deny": [tiny_model.name]}})
    with pytest.raises(PolicyViolation, match="deny pattern") as err:
        Playground(tiny_model, guard=guard).run(prompt="hello")
    assert err.value.hint
    assert generation_events() == []


def test_rate_limit_refuses_with_a_hint(tiny_model) -> None:  # type: ignore[no-untyped-def]
    pg = Playground(tiny_model, guard=Guard({"limits": {"requests_per_minute": 1}}), max_new_tokens=2)
    pg.run(prompt="one")
    with pytest.raises(PolicyViolation, match="rate limit") as err:
        pg.run(prompt="two")
    assert "wait" in (err.value.hint or "")


def test_blocked_output_is_withheld(tiny_model) -> None:  # type: ignore[no-untyped-def]
    first = Playground(tiny_model, max_new_tokens=12).run(prompt="The cat")
    words = [w for w in re.findall(r"[A-Za-z]{3,}", first.text) if w.lower() not in {"the", "cat"}]
    assert words, first.text  # greedy decoding: the same words come back below
    guard = Guard({"terms": {"deny": [words[0]]}})
    # The term is in the output but not in the prompt: the output check withholds the answer.
    run = Playground(tiny_model, guard=guard, max_new_tokens=12).run(prompt="The cat")
    assert run.status == "blocked" and run.text.startswith("[withheld")


def test_guarded_generate_with_plain_messages_and_cost(tiny_model) -> None:  # type: ignore[no-untyped-def]
    run = guarded_generate(
        tiny_model,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        params={"max_new_tokens": 3},
    )
    assert run.messages[0] == {"role": "system", "content": "Be brief."}
    assert price_of("gpt-4o-mini", 1000, 1000) == pytest.approx(0.00075)
    assert price_of("openai:gpt-4o-mini", 1000, 0) == pytest.approx(0.00015)
    assert json.loads(json.dumps(run.to_dict()))["id"] == run.id
