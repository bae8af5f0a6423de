"""The trainer's steps as public pieces: batch order, schedule, resume checks, trainer state, plan request, trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workbench.tuning import PlanRequest, TrainingConfig, estimate_memory
from workbench.tuning.optimization import BatchOrder, lr_lambda
from workbench.tuning.plan import trace_activations
from workbench.tuning.preparation import checkpoint_compatible, plan_request, total_steps
from workbench.tuning.state import TrainerState
from workbench.tuning.tracing import (
    TraceShape,
    build_meta_model,
    check_targets,
    load_model_config,
    trace_model,
)


def test_batch_order_shuffles_each_epoch_and_resumes_by_position() -> None:
    order = BatchOrder(10, 4, seed=3)
    assert order.per_epoch == 3
    epochs = [[i for pos in range(e * 3, e * 3 + 3) for i in order.indices(pos)] for e in range(3)]
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)  # every example once per epoch
    assert len({tuple(epoch) for epoch in epochs}) > 1  # a fresh shuffle per epoch
    assert BatchOrder(10, 4, seed=3).indices(7) == order.indices(7)  # a resumed run sees the same batches


def test_learning_rate_warms_up_then_decays() -> None:
    linear = lr_lambda(TrainingConfig(lr_scheduler="linear", warmup_steps=2), 10)
    assert [linear(0), linear(1), linear(2), linear(6), linear(10)] == [0.5, 1.0, 1.0, 0.5, 0.0]
    cosine = lr_lambda(TrainingConfig(lr_scheduler="cosine"), 10)
    assert cosine(0) == 1.0 and cosine(5) == pytest.approx(0.5) and cosine(10) == pytest.approx(0.0)
    assert lr_lambda(TrainingConfig(), 10)(9) == 1.0  # constant


def test_total_steps_from_max_steps_or_epochs() -> None:
    assert total_steps(TrainingConfig(max_steps=7), 100) == 7
    by_epochs = TrainingConfig(max_steps=None, epochs=2, batch_size=4, gradient_accumulation_steps=2)
    assert total_steps(by_epochs, 10) == 3  # 3 micro-batches per epoch, 2 epochs, 2 per step


def test_a_checkpoint_resumes_only_the_same_training(make_config: Callable[..., Any]) -> None:
    config = make_config("lora")
    saved = json.loads(json.dumps(config.to_dict()))
    assert checkpoint_compatible(
        saved, config.replace(**{"training.max_steps": 50, "training.save_every": 5})
    )
    assert not checkpoint_compatible(saved, config.replace(**{"training.learning_rate": 0.5}))
    assert not checkpoint_compatible(saved, config.replace(**{"method.rank": 4}))


def test_trainer_state_counts_evaluations_and_round_trips() -> None:
    state = TrainerState(run_id="tune-x")
    state.record_eval(1, 2.0, min_delta=0.1)
    state.record_eval(2, 1.95, min_delta=0.1)  # better, but not by min_delta
    state.record_eval(3, None, min_delta=0.1)  # nothing to record
    assert state.best_step == 1 and state.evals_without_improvement == 1 and len(state.eval_losses) == 2
    state.step = 2
    saved = {**json.loads(json.dumps(state.to_dict())), "written_by_a_newer_version": True}
    resumed = TrainerState.from_saved(saved)
    assert resumed.run_id == "tune-x" and resumed.eval_losses == state.eval_losses
    assert resumed.resumed_from == [2]


def test_plan_request_has_the_run_shape(make_config: Callable[..., Any]) -> None:
    config = make_config("lora", **{"training.batch_size": 2, "training.gradient_checkpointing": True})
    request = plan_request(config, 48, "cpu")
    assert (request.seq_len, request.batch_size, request.rank) == (48, 2, config.method.rank)
    assert (
        request.gradient_checkpointing
        and request.bits == config.method.bits
        and request.model == config.model
    )


def test_trace_model_agrees_with_the_cached_trace_and_the_meta_model(tiny_model_dir: Path) -> None:
    config = load_model_config(str(tiny_model_dir))
    shape = TraceShape(rank=8, targets=("q_proj", "v_proj"), batch=2, seq=16)
    trace = trace_model(config, shape)
    assert trace == trace_activations(config, shape)
    meta = build_meta_model(config)
    assert next(meta.parameters()).device.type == "meta"
    assert trace.total_params == sum(p.numel() for p in meta.parameters())
    assert set(trace.targets) == set(check_targets(meta, shape.targets))
    assert len(trace.per_layer) == config.num_hidden_layers and all(b > 0 for b in trace.per_layer)
    request = PlanRequest(model=str(tiny_model_dir), rank=8, targets=shape.targets, batch_size=2, seq_len=16)
    assert estimate_memory(request).parameters == trace.total_params
