from __future__ import annotations

import pytest

from workbench._optional import is_available, require
from workbench._registry import Registry
from workbench.errors import MissingExtraError, PluginError, ValidationError, WorkbenchError


def test_error_message_names_file_line_field_and_hint() -> None:
    err = ValidationError("must be a number", file="p/playbook.yaml", line=3, field="parameters.n", hint="use 5")
    text = str(err)
    assert text.startswith("p/playbook.yaml:3 (field 'parameters.n'): must be a number")
    assert "hint: use 5" in text
    assert err.to_dict()["field"] == "parameters.n"
    assert isinstance(err, WorkbenchError)


def test_error_without_location_is_just_the_message() -> None:
    assert str(WorkbenchError("boom")) == "boom"


def test_require_names_the_package_to_install() -> None:
    with pytest.raises(MissingExtraError) as info:
        require("definitely_not_a_module_xyz", extra="rag")
    assert "workbench[rag]" in str(info.value)
    assert is_available("json")
    assert not is_available("definitely_not_a_module_xyz")


def test_registry_register_get_and_unknown_name_lists_known() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)

    @reg.register("b")  # type: ignore[misc]
    def b() -> int:
        return 2

    assert reg.get("a") == 1
    assert reg.names() == ["a", "b"]
    assert "a" in reg
    with pytest.raises(PluginError, match="known widgets: a, b"):
        reg.get("zzz")
    with pytest.raises(PluginError, match="already registered"):
        reg.register("a", 3)
    reg.register("a", 3, replace=True)
    assert reg.get("a") == 3


def test_registry_builtins_load_through_the_entry_point_door_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("WORKBENCH_LOAD_PLUGINS", "0")  # built-ins are not plugins: they load anyway
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    reg: Registry[object] = Registry("thing", "workbench.test", builtins={"hls": "colorsys:rgb_to_hls"})
    assert reg.names() == ["hls"]
    assert "hls" in reg
    assert "colorsys" not in sys.modules  # listed by name, imported only when asked for
    import colorsys

    assert reg.get("hls") is colorsys.rgb_to_hls
    with pytest.raises(PluginError, match="already registered"):
        reg.register("hls", len)
    reg.register("hls", len, replace=True)
    assert reg.get("hls") is len


def test_registry_builtin_that_fails_to_import_raises() -> None:
    reg: Registry[object] = Registry("thing", builtins={"gone": "no_such_module_q:thing"})
    with pytest.raises(ModuleNotFoundError):
        reg.get("gone")


def test_registry_isolates_broken_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    import workbench._registry as registry_mod

    broken = EntryPoint(name="broken", value="no_such_module_q:thing", group="workbench.test")
    good = EntryPoint(name="good", value="json:dumps", group="workbench.test")
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: [broken, good])
    monkeypatch.setenv("WORKBENCH_LOAD_PLUGINS", "1")
    reg: Registry[object] = Registry("thing", "workbench.test")
    assert reg.names() == ["good"]
    assert "broken" in reg.load_failures
    with pytest.raises(PluginError, match="failed to load"):
        reg.get("broken")


def test_builtin_entry_points_load_when_plugins_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-ins come in through the same door as plugins: WORKBENCH_LOAD_PLUGINS=0 skips only third parties."""
    from importlib.metadata import EntryPoint, entry_points

    import workbench._registry as registry_mod

    third_party = EntryPoint(name="third", value="json:dumps", group="workbench.backends")
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: [*entry_points(group=group), third_party])
    monkeypatch.setenv("WORKBENCH_LOAD_PLUGINS", "0")
    reg: Registry[object] = Registry("model source", "workbench.backends")
    assert reg.names() == ["adapter"]  # declared by the workbench distribution in pyproject.toml
    from workbench.tuning.export import AdapterSource

    assert reg.get("adapter") is AdapterSource
    monkeypatch.setenv("WORKBENCH_LOAD_PLUGINS", "1")
    assert {"adapter", "third"} <= set(Registry("model source", "workbench.backends").names())
