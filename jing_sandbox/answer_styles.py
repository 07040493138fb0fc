"""Plausible shapes of the batch update's answer, for writers to be tested against.

The public page's example echoes values that differ from its request, so the real
echo's shape is not certain (jing-api.md 6.4). `--answer-style` makes the sandbox
answer one of these variants; the update itself takes effect the same way.
"""

from __future__ import annotations

from typing import Any

#: Style -> what it changes in the answer of `/v1/activity/update/userStatus/batch`.
ANSWER_STYLES: dict[str, str] = {
    "echo": "data is the list of updated registrations (the default)",
    "int_statuses": "statuses echoed as integers",
    "time_t": "times echoed with a 'T' between date and time",
    "time_offset": "times echoed with the zone's offset (+08:00)",
    "time_minutes": "times echoed without seconds",
    "success_failure": 'data is {"success": [...], "failure": [...]}',
    "data_null": "code 0 with data null",
    "data_missing": "code 0 without data",
    "non_json": "HTTP 200 with an HTML page instead of the envelope",
}

#: The marker `restyle` returns for "leave `data` out of the envelope".
NO_DATA = object()

_TIME_FIELDS = ("ems_approvetimestamp", "ems_signintimestamp")
_STATUS_FIELDS = ("ems_approvestatus", "ems_signinstatus")


def restyle(style: str, data: list[dict[str, Any]], asked: list[str]) -> Any:
    """`data` (the updated registrations) as `style` answers it; `asked` are the user_ids."""
    if style in ("echo", "non_json"):
        return data
    if style == "data_null":
        return None
    if style == "data_missing":
        return NO_DATA
    if style == "success_failure":
        updated = {item["omni_user_uuid"] for item in data}
        failure = [
            {"omni_user_uuid": user_id, "reason": "user is not registered for this activity"}
            for user_id in dict.fromkeys(asked)
            if user_id not in updated
        ]
        return {"success": data, "failure": failure}
    return [_item(style, item) for item in data]


def _item(style: str, item: dict[str, Any]) -> dict[str, Any]:
    item = dict(item)
    if style == "int_statuses":
        for name in _STATUS_FIELDS:
            if isinstance(item.get(name), str) and item[name].isdigit():
                item[name] = int(item[name])
        return item
    for name in _TIME_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and len(value) == len("YYYY-MM-DD HH:MM:SS"):
            if style == "time_t":
                item[name] = value.replace(" ", "T")
            elif style == "time_offset":
                item[name] = value.replace(" ", "T") + "+08:00"
            elif style == "time_minutes":
                item[name] = value[:16]
    return item
