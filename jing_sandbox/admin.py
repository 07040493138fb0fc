"""The /_sandbox/ endpoints (docs/ARCHITECTURE.md): stats, reset, faults, config, tokens...

No auth, no limits, never a fault. Answers are plain JSON (no envelope); a bad body
is HTTP 400 `{"error": "..."}` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jing_sandbox.faults import FaultError
from jing_sandbox.settings import RUNTIME_KNOBS

if TYPE_CHECKING:
    from jing_sandbox.app import Sandbox

PREFIX = "/_sandbox/"


class AdminError(ValueError):
    """HTTP 400 with this message."""


def stats(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    return sb.stats_snapshot()


def reset(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    sb.reset(data=bool(body.get("data", False)))
    return {"ok": True, **sb.store.counts()}


def faults(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    try:
        return {"faults": sb.faults.set(body)}
    except FaultError as exc:
        raise AdminError(str(exc)) from exc


def config(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    values = {}
    for key, value in body.items():
        kind = RUNTIME_KNOBS.get(key)
        if kind is None:
            raise AdminError(f"unknown setting {key!r}; known: {', '.join(RUNTIME_KNOBS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise AdminError(f"setting {key!r} must be a number >= 0, got {value!r}")
        if kind is int and value != int(value):
            raise AdminError(f"setting {key!r} must be a whole number, got {value!r}")
        values[key] = kind(value)
    for key, value in values.items():
        setattr(sb.settings, key, value)
    return {key: getattr(sb.settings, key) for key in RUNTIME_KNOBS}


def expire_tokens(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    access, refresh = bool(body.get("access", True)), bool(body.get("refresh", False))
    sb.tokens.expire(access=access, refresh=refresh)
    return {"access": access, "refresh": refresh}


def register(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    entity_uuid, user_ids = body.get("entity_uuid"), body.get("user_ids")
    if not isinstance(entity_uuid, str):
        raise AdminError("'entity_uuid' must be a string")
    if not isinstance(user_ids, list) or not all(isinstance(u, str) and u for u in user_ids):
        raise AdminError("'user_ids' must be a list of non-empty strings")
    rows = sb.store.register(entity_uuid, user_ids)
    if rows is None:
        raise AdminError(f"unknown activity: entity_uuid {entity_uuid!r}")
    return {"registrations": rows}


def registrations(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    return sb.store.all_registrations(query.get("entity_uuid") or None)


def counts(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    return sb.store.counts()


def tokens(sb: Sandbox, body: dict[str, Any], query: dict[str, str]) -> Any:
    return sb.tokens.listing()


AdminHandler = Callable[["Sandbox", dict[str, Any], dict[str, str]], Any]
# (method, path) -> handler
ROUTES: dict[tuple[str, str], AdminHandler] = {
    ("GET", "/_sandbox/stats"): stats,
    ("POST", "/_sandbox/reset"): reset,
    ("POST", "/_sandbox/faults"): faults,
    ("POST", "/_sandbox/config"): config,
    ("POST", "/_sandbox/expire_tokens"): expire_tokens,
    ("POST", "/_sandbox/register"): register,
    ("GET", "/_sandbox/registrations"): registrations,
    ("GET", "/_sandbox/counts"): counts,
    ("GET", "/_sandbox/tokens"): tokens,
}


def handle(
    sb: Sandbox, method: str, path: str, query: dict[str, str], raw: bytes
) -> tuple[int, Any]:
    """(HTTP status, JSON-able answer) for one admin request."""
    handler = ROUTES.get((method, path))
    if handler is None:
        known = any(p == path for _, p in ROUTES)
        return (405 if known else 404), {"error": f"no admin endpoint {method} {path}"}
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return 400, {"error": "body must be JSON"}
    if not isinstance(body, dict):
        return 400, {"error": "body must be a JSON object"}
    try:
        return 200, handler(sb, body, query)
    except AdminError as exc:
        return 400, {"error": str(exc)}
