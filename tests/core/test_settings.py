"""Settings precedence: kwargs > env > .env > TOML file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.settings import SMOLLM2_MODEL, WorkbenchSettings, get_settings, redact_url, reset_settings


def test_defaults_derive_from_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("WORKBENCH_DEFAULT_MODEL", raising=False)  # the test session's own default
    s = WorkbenchSettings()
    assert s.default_model == SMOLLM2_MODEL
    assert s.cache_dir == tmp_path / "d" / "cache"
    assert s.store_url == f"sqlite:///{tmp_path / 'd' / 'telemetry.db'}"
    assert s.min_group_size == 5
    assert (s.datasets_dir / "README.md").exists() or s.datasets_dir.name == "datasets"


def test_precedence_kwargs_env_dotenv_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "workbench.toml"
    toml.write_text('default_model = "from-toml"\nteam = "toml-team"\nrole = "toml-role"\nlearner = "toml-l"\n')
    (tmp_path / ".env").write_text("WORKBENCH_TEAM=dotenv-team\nWORKBENCH_ROLE=dotenv-role\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_DEFAULT_MODEL", raising=False)
    monkeypatch.setenv("WORKBENCH_ROLE", "env-role")
    monkeypatch.setenv("WORKBENCH_LEARNER", "env-l")
    s = WorkbenchSettings(learner="kw-l")
    assert s.learner == "kw-l"  # kwargs beat env
    assert s.role == "env-role"  # env beats .env
    assert s.team == "dotenv-team"  # .env beats TOML
    assert s.default_model == "from-toml"  # TOML beats defaults


def test_workbench_config_env_points_to_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text("min_group_size = 7\n[prices.my-model]\ninput_per_1k = 1.0\noutput_per_1k = 2.0\n")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    s = WorkbenchSettings()
    assert s.min_group_size == 7
    assert s.price_for("my-model").cost(1000, 500) == pytest.approx(2.0)
    assert s.price_for("unknown").cost(10, 10) == 0.0


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CONFIG", "/nope/workbench.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        WorkbenchSettings()


def test_invalid_value_names_field_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MIN_GROUP_SIZE", "zero")
    reset_settings()
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert info.value.field == "min_group_size"
    assert "WORKBENCH_MIN_GROUP_SIZE" in str(info.value)


def test_get_settings_is_cached_and_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings() is get_settings()
    assert get_settings(team="x").team == "x"
    monkeypatch.setenv("WORKBENCH_TEAM", "y")
    assert get_settings().team != "y"  # cached until reset
    reset_settings()
    assert get_settings().team == "y"


def test_secrets_never_in_public_dict() -> None:
    s = WorkbenchSettings(store_url="postgresql+psycopg://bob:hunter2@db/wb", pseudonym_salt="s3cret")
    public = s.public_dict()
    assert "hunter2" not in str(public) and "s3cret" not in str(public)
    assert redact_url("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
