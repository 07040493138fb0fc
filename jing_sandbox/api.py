"""The business endpoints of jing-api.md sections 2, 6 and 7, as plain functions.

Each takes the sandbox and the parsed JSON body and returns an `Outcome` (the
envelope's code, msg and data); a bad request raises `ApiError`. Transport
concerns (limits, faults, the envelope itself) live in `app.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jing_sandbox.store import STATUS_FIELDS
from jing_sandbox.timefmt import is_time_text
from jing_sandbox.tokens import REFRESH_INVALID

if TYPE_CHECKING:
    from jing_sandbox.app import Sandbox

TOKEN_PATH = "/v1/oauth2/token"
REFRESH_PATH = "/v1/oauth2/token/refresh"
ACTIVITY_LIST_PATH = "/v1/activity/list"
ACTIVITY_DETAIL_PATH = "/v1/activity/detail"
ACTIVITY_USER_LIST_PATH = "/v1/activity/user/list"
BATCH_UPDATE_PATH = "/v1/activity/update/userStatus/batch"
USER_LIST_PATH = "/v1/user/list"

BAD_CREDENTIALS = 40001
BAD_PARAMETER = 40010
BATCH_TOO_LARGE = 40013
PERMISSION = 40300
NOT_FOUND = 40400
THROTTLED = 42900
INTERNAL = 50000

PAGE_SIZE_LIMIT = 100
BATCH_LIMIT = 100
ALLOWED_STATUSES = {"ems_signinstatus": ("0", "1"), "ems_approvestatus": ("0", "1", "2")}
DEFAULT_PAGE_SIZE = 20
#: What a user id may look like [contract]: one malformed id refuses the whole batch (40010),
#: which lets writers test how they isolate a bad row.
USER_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Outcome:
    """What the envelope carries besides request_id and timestamp."""

    code: int = 0
    msg: str = "success"
    data: Any = None
    #: The batch update's `user_ids`, for answer styles that name who failed.
    asked: list[str] = field(default_factory=list)


class ApiError(Exception):
    """A business error answered as HTTP 200 with `code != 0`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def token(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    _check_credentials(sb, body)
    pair = sb.tokens.issue(sb.settings.app_id, sb.settings.token_ttl, sb.settings.refresh_ttl)
    sb.stats.token_issued()
    return Outcome(data=pair)


def token_refresh(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    _check_credentials(sb, body)
    refresh = body.get("refresh_token")
    pair = (
        sb.tokens.refresh(sb.settings.app_id, refresh, sb.settings.token_ttl)
        if isinstance(refresh, str)
        else None
    )
    if pair is None:
        raise ApiError(REFRESH_INVALID, "refresh_token is invalid or expired")
    sb.stats.token_issued()
    return Outcome(data=pair)


def _check_credentials(sb: Sandbox, body: dict[str, Any]) -> None:
    if body.get("app_id") != sb.settings.app_id or body.get("app_secret") != sb.settings.app_secret:
        raise ApiError(BAD_CREDENTIALS, "app_id or app_secret is wrong")


def activity_list(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    return _listing(sb, body, "activities")


def user_list(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    return _listing(sb, body, "users")


def activity_user_list(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    return _listing(sb, body, "registrations", _entity_uuid(body))


def _listing(sb: Sandbox, body: dict[str, Any], listing: str, entity_uuid: str = "") -> Outcome:
    page = _int_param(body, "page", 1, 1, None)
    page_size = _int_param(body, "page_size", DEFAULT_PAGE_SIZE, 1, PAGE_SIZE_LIMIT)
    start, end = _time_param(body, "updated_start"), _time_param(body, "updated_end")
    found = sb.store.page(listing, start, end, page, page_size, entity_uuid)
    if found is None:
        raise ApiError(NOT_FOUND, f"activity not found: entity_uuid {entity_uuid!r}")
    total, items = found
    return Outcome(data={"total": total, "page": page, "page_size": page_size, "list": items})


def activity_detail(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    entity_uuid = _entity_uuid(body)
    row = sb.store.activity(entity_uuid)
    if row is None:
        raise ApiError(NOT_FOUND, f"activity not found: entity_uuid {entity_uuid!r}")
    return Outcome(data=row)


def batch_update(sb: Sandbox, body: dict[str, Any]) -> Outcome:
    """6.4: set the same statuses on every listed user; unregistered users are absent."""
    entity_uuid = _entity_uuid(body)
    user_ids = body.get("user_ids")
    if not isinstance(user_ids, list) or not all(isinstance(u, str) and u for u in user_ids):
        raise ApiError(BAD_PARAMETER, "user_ids must be a list of non-empty strings")
    if not user_ids:
        raise ApiError(BAD_PARAMETER, "user_ids must not be empty")
    if len(user_ids) > BATCH_LIMIT:
        raise ApiError(BATCH_TOO_LARGE, f"user_ids has {len(user_ids)} ids; at most {BATCH_LIMIT}")
    for position, user_id in enumerate(user_ids):
        if not USER_ID_SHAPE.fullmatch(user_id):
            raise ApiError(
                BAD_PARAMETER, f"user_ids[{position}] is not a valid user id: {user_id!r}"
            )
    changes: dict[str, str] = {}
    for name in STATUS_FIELDS:
        if name not in body:
            continue
        value = body[name]
        allowed = ALLOWED_STATUSES.get(name)
        if allowed is not None and value not in allowed:
            raise ApiError(BAD_PARAMETER, f"{name} must be one of {', '.join(allowed)}")
        if allowed is None and not is_time_text(value):
            raise ApiError(BAD_PARAMETER, f"{name} must be a time 'YYYY-MM-DD HH:MM:SS'")
        changes[name] = value
    echoed = sb.store.update_statuses(entity_uuid, user_ids, changes)
    if echoed is None:
        raise ApiError(NOT_FOUND, f"activity not found: entity_uuid {entity_uuid!r}")
    if changes:
        sb.stats.rows_updated(len(echoed))
    return Outcome(data=echoed, asked=list(user_ids))


def _entity_uuid(body: dict[str, Any]) -> str:
    value = body.get("entity_uuid")
    if not isinstance(value, str) or not value:
        raise ApiError(BAD_PARAMETER, "entity_uuid is required (a string)")
    return value


def _int_param(body: dict[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    value = body.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(BAD_PARAMETER, f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ApiError(BAD_PARAMETER, f"{name} must be {bounds}, got {value}")
    return value


def _time_param(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not is_time_text(value):
        raise ApiError(BAD_PARAMETER, f"{name} must be a time 'YYYY-MM-DD HH:MM:SS'")
    return value


Handler = Callable[["Sandbox", dict[str, Any]], Outcome]
# path -> (handler, needs an access token)
ROUTES: dict[str, tuple[Handler, bool]] = {
    TOKEN_PATH: (token, False),
    REFRESH_PATH: (token_refresh, False),
    ACTIVITY_LIST_PATH: (activity_list, True),
    ACTIVITY_DETAIL_PATH: (activity_detail, True),
    ACTIVITY_USER_LIST_PATH: (activity_user_list, True),
    BATCH_UPDATE_PATH: (batch_update, True),
    USER_LIST_PATH: (user_list, True),
}
