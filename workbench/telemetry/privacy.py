"""Privacy helpers applied to every event before it is stored: pseudonyms and secret masking.

- :func:`pseudonymize` turns a raw learner id (an e-mail, a login) into ``p_<16 hex>``: the first 64 bits of
  HMAC-SHA256 keyed with ``settings.pseudonym_salt``. Without the salt the raw id cannot be recovered or
  guessed by hashing candidate ids; with the same salt the same person always gets the same pseudonym, so
  evidence joins across playbooks. Pseudonyms pass through unchanged (idempotent), so a stored event can be
  validated again, and a query can filter by raw id or by pseudonym alike.
- :func:`mask_secrets` replaces the values of secret-looking keys (``api_key``, ``password``, ``token``,
  ``secret``, ``authorization``, ...) by ``"***"``, recursively, and strips passwords from URLs and bearer
  tokens or ``sk-`` keys from string values. Counting keys such as ``gen_ai.usage.input_tokens`` are kept:
  only the singular ``token`` segment is secret.

What else an event holds, and why:

- Free text (prompts, outputs) is redacted for PII, names included, by the guardrails before it reaches an
  event (:mod:`workbench.guardrails.pii`); a playbook run's parameters, outputs and kernel log are redacted the
  same way before they are saved (:mod:`workbench.playbooks.redaction`).
- **Team names are not treated as identifying, and are stored as given** in events, ``run.json`` and output
  notebooks. A team is a group label that managers filter and report by (``workbench report --team``), so it
  must stay readable and joinable; it is not pseudonymised. What keeps a team's figures from describing one
  person is the report's suppression: every team, and every team x skill cell, with fewer than
  ``settings.min_group_size`` learners (default 5) is blanked (:mod:`workbench.skills.report`). A team label
  becomes identifying in two cases, both the deployer's to avoid: a team named after a person
  (``ana-okafor``) and a team of one outside the report (for example in a raw ``telemetry tail``). Name teams
  after what they do (``support-emea``), and treat the raw store as personal data of the learners in it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

#: What a masked value is replaced with.
MASK = "***"

_PSEUDONYM = re.compile(r"^p_[0-9a-f]{16}$")

# Key segments (after splitting on ``.``, ``_``, ``-``, spaces and camelCase) that mark a secret on their own.
_SECRET_SEGMENTS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "authorization",
        "apikey",
        "credential",
        "credentials",
        "cookie",
        "bearer",
        "privatekey",
    }
)
# Adjacent segment pairs that mark a secret (``api_key``, ``x-api-key``, ``secretKey``...).
_SECRET_PAIRS = frozenset({("api", "key"), ("secret", "key"), ("private", "key"), ("access", "key")})
# ``token`` followed by one of these names a count or an id list, not a credential (``token_count``).
_TOKEN_NOT_SECRET_NEXT = frozenset(
    {"count", "counts", "ids", "id", "len", "length", "limit", "usage", "type"}
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_SECRET_VALUE = re.compile(
    r"(?i)\s*(?:bearer\s+\S+|basic\s+[A-Za-z0-9+/=]{8,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\s*"
)


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` already has the pseudonym form ``p_<16 hex>``."""
    return bool(_PSEUDONYM.match(value))


def pseudonymize(raw_id: str, *, salt: str | None = None) -> str:
    """The pseudonym of a learner id: ``"p_" + 16 hex`` of HMAC-SHA256(salt, id).

    Args:
        raw_id: The raw id (surrounding whitespace is ignored). A pseudonym is returned unchanged.
        salt: The HMAC key; default ``settings.pseudonym_salt``.

    Returns:
        The pseudonym.
    """
    if is_pseudonym(raw_id):
        return raw_id
    if salt is None:
        from workbench.settings import get_settings

        salt = get_settings().pseudonym_salt.get_secret_value()
    return _pseudonym(salt, raw_id.strip())


@lru_cache(maxsize=4096)
def _pseudonym(salt: str, raw_id: str) -> str:
    digest = hmac.new(salt.encode("utf-8"), raw_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p_" + digest[:16]


@lru_cache(maxsize=2048)
def is_secret_key(key: str) -> bool:
    """Whether an attribute key looks like it holds a credential."""
    parts = [p for p in _SPLIT.split(_CAMEL.sub("_", key).lower()) if p]
    for i, part in enumerate(parts):
        if part == "token":
            if i + 1 < len(parts) and parts[i + 1] in _TOKEN_NOT_SECRET_NEXT:
                continue
            return True
        if part in _SECRET_SEGMENTS:
            return True
        if i + 1 < len(parts) and (part, parts[i + 1]) in _SECRET_PAIRS:
            return True
    return False


def mask_value(value: str) -> str:
    """``value`` with URL passwords replaced by ``***``; a value that is itself a credential becomes ``***``."""
    if _SECRET_VALUE.fullmatch(value):
        return MASK
    if "://" in value and "@" in value:
        return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", value)
    return value


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, scalars) with secret-looking keys and values masked, recursively."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v is not None else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return mask_value(value)
    return value
