"""What the REST routes accept from a client, and what they never send back.

Every route answers a bad request with a 4xx JSON error, never a 500:

- **Body size**: at most :data:`MAX_BODY_BYTES` (1 MiB; the routes take small JSON objects), checked before the
  body is parsed; larger bodies get ``413 body_too_large``.
- **JSON bodies**: UTF-8 JSON objects only; invalid UTF-8, invalid JSON, nesting deeper than
  :data:`MAX_JSON_DEPTH` and non-finite numbers (``NaN``, ``Infinity``) get ``400 bad_json``.
- **Ids** (playbook ids in the URL, ``team``/``skill``/``role`` query values): at most :data:`MAX_ID_CHARS`
  characters; a playbook id must be well formed (else ``404``, before anything touches the file system).

No response carries an absolute server path: :func:`public_path` turns a path into an id relative to the folder
it lives in (the server root, a playbook pack, the datasets or data folder), else its file name, and
:func:`scrub_paths` does the same inside error messages and hints.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tornado import web

#: Largest request body the Workbench routes accept (bytes).
MAX_BODY_BYTES = 1024 * 1024
#: Deepest nesting of arrays/objects accepted in a JSON body.
MAX_JSON_DEPTH = 32
#: Longest id (playbook, team, skill, role, learner) accepted in a URL or query.
MAX_ID_CHARS = 200
#: Longest client value echoed back in an error message.
_ECHO_CHARS = 80

#: An absolute POSIX path inside a text (not the tail of a URL, a relative path or a word like "and/or").
_ABSOLUTE = re.compile(r"(?<![\w.~:/%-])/[^\s'\"`,;()<>\[\]{}|]+")


class ApiError(web.HTTPError):
    """An HTTP error with Workbench's JSON body ``{"error", "message", "hint", ...}``."""

    def __init__(self, status: int, error: str, message: str, hint: str | None = None, **extra: Any) -> None:
        super().__init__(status, message)
        self.body = {"error": error, "message": message, "hint": hint, **extra}


def shown(value: str) -> str:
    """A client value as echoed in an error message: cut to a readable length."""
    return value if len(value) <= _ECHO_CHARS else f"{value[:_ECHO_CHARS]}... ({len(value)} characters)"


def check_body_size(declared: str | None, body: bytes | None) -> None:
    """Refuse a body over :data:`MAX_BODY_BYTES` (by its ``Content-Length`` or its actual size)."""
    try:
        size = int(declared) if declared is not None else 0
    except ValueError:
        size = 0
    size = max(size, len(body or b""))
    if size > MAX_BODY_BYTES:
        raise ApiError(
            413, "body_too_large",
            f"the request body is {size} bytes; the Workbench routes accept at most {MAX_BODY_BYTES} bytes",
            'send a small JSON object, e.g. {"parameters": {"name": value}}',
        )  # fmt: skip


def _too_deep(data: Any, limit: int) -> bool:
    """Whether parsed JSON nests arrays/objects deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{shown(text)} is too large for a number")
    return value


def decode_json_object(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body (empty body = ``{}``), or a 400 ``bad_json`` :class:`ApiError`."""
    if not body.strip():
        return {}
    hint = 'send a UTF-8 JSON object, e.g. {"parameters": {"name": value}}'
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_json", f"the request body is not UTF-8 (byte {exc.start})", hint) from None
    deep = ApiError(400, "bad_json", f"the request body nests deeper than {MAX_JSON_DEPTH} levels", hint)
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise deep from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ApiError(400, "bad_json", f"the request body is not JSON: {shown(str(exc))}", hint) from None
    if _too_deep(data, MAX_JSON_DEPTH):
        raise deep
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object", hint)
    return data


def check_id(value: str, what: str) -> str:
    """``value`` if it is at most :data:`MAX_ID_CHARS` long, else a 400 :class:`ApiError` naming ``what``."""
    if len(value) > MAX_ID_CHARS:
        raise ApiError(
            400, "invalid", f"the {what} is {len(value)} characters long; ids have at most {MAX_ID_CHARS}",
            f"pass a {what} id from the catalog or the report",
        )  # fmt: skip
    return value


def path_roots(server_root: str | Path | None = None) -> list[Path]:
    """Folders whose files are named relative to them in responses, most specific first."""
    from workbench.playbooks import builtin_pack_dir
    from workbench.settings import get_settings

    settings = get_settings()
    candidates: list[Any] = [server_root, builtin_pack_dir(), *settings.playbook_dirs, Path.cwd() / "playbooks",
                             settings.datasets_dir, settings.cache_dir, settings.data_dir]  # fmt: skip
    roots = {Path(os.path.abspath(Path(c).expanduser())) for c in candidates if c}
    return sorted(roots, key=lambda p: len(p.as_posix()), reverse=True)


def public_path(value: str | Path, roots: Iterable[Path]) -> str:
    """A path as shown to a client: relative to the first root holding it, else its file name."""
    text = str(value)
    if not os.path.isabs(text):
        return text
    normal = os.path.normpath(text)
    for root in roots:
        base = root.as_posix().rstrip("/")
        if normal == base:
            return "."
        if normal.startswith(base + "/"):
            return normal[len(base) + 1 :]
    return os.path.basename(normal) or "."


def scrub_paths(text: str, roots: Iterable[Path]) -> str:
    """``text`` with every absolute path in it replaced by :func:`public_path`."""
    ordered = list(roots)
    return _ABSOLUTE.sub(lambda m: public_path(m.group(0), ordered), text)


def public_body(body: dict[str, Any], roots: Iterable[Path]) -> dict[str, Any]:
    """An error body with ``file`` made relative and paths scrubbed from every string value."""
    ordered = list(roots)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "file" and value:
            out[key] = public_path(value, ordered)
        elif isinstance(value, str):
            out[key] = scrub_paths(value, ordered)
        else:
            out[key] = value
    return out
