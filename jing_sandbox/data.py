"""Seeded sample data: activities, users and registrations, the same for the same seed.

Times are spread over the months before a fixed anchor (not the wall clock), so two
starts with one seed give identical data, and every write made at run time (stamped
with the real "now") is newer than all seeded rows, as incremental extraction expects.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from jing_sandbox.timefmt import local_seconds, text_from_local_seconds

# shortuuid's alphabet: digits and letters without the look-alikes 0, 1, I, O, l.
BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_LENGTH = 22
ANCHOR = local_seconds("2025-10-01 00:00:00")
DAY = 86_400
HISTORY_DAYS = 210

Row = dict[str, Any]

_TOPICS = (
    "Digital Marketing Summit",
    "Product Launch",
    "Customer Day",
    "Partner Forum",
    "Developer Meetup",
    "Webinar: Marketing Automation",
    "Retail Innovation Salon",
    "数字营销峰会",
    "新品发布会",
    "客户答谢会",
)
_CITIES = ("Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Hangzhou", "Chengdu", "Suzhou")
_STREETS = ("Nanjing Road", "Century Avenue", "Huaihai Road", "Chang'an Avenue", "Tianfu Road")
_COMPANIES = ("Acme China", "Huaxia Retail", "Blue Ocean Tech", "Golden Bridge", "Jade Pharma")
_TITLES = ("Marketing Manager", "CMO", "Engineer", "Sales Director", "Analyst", "Founder")
_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou")
_GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Yan", "Tao", "Ming", "Xin", "Hui")
FORM_FIELDS = (
    {"field_code": "name", "label": "姓名 Name", "required": True},
    {"field_code": "mobile", "label": "手机 Mobile", "required": True},
    {"field_code": "company", "label": "公司 Company", "required": False},
    {"field_code": "job_title", "label": "职位 Title", "required": False},
)


@dataclass
class Dataset:
    """Plain rows, ready to be indexed by the store or written to a --db file."""

    activities: list[Row] = field(default_factory=list)
    users: list[Row] = field(default_factory=list)
    registrations: list[Row] = field(default_factory=list)


# Maps each random byte to a base57 character (slightly uneven, which ids do not mind).
_BYTE_TO_BASE57 = bytes(ord(BASE57[b % len(BASE57)]) for b in range(256))


class IdMaker:
    """22-character base57-style ids, unique within one dataset.

    Draws random bytes in bulk: a `choices` call per id was the slow part of seeding.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()
        self._pool = ""
        self._at = 0

    def new(self) -> str:
        while True:
            if self._at + ID_LENGTH > len(self._pool):
                self._pool = (
                    self._rng.randbytes(ID_LENGTH * 4096).translate(_BYTE_TO_BASE57).decode()
                )
                self._at = 0
            value = self._pool[self._at : self._at + ID_LENGTH]
            self._at += ID_LENGTH
            if value not in self._seen:
                self._seen.add(value)
                return value


def generate(seed: int, activities: int, users: int, registrations: int) -> Dataset:
    """Build the whole dataset from `seed`; < 1 s for 100,000 registrations."""
    rng = random.Random(seed)
    ids = IdMaker(rng)
    data = Dataset()
    data.activities = [_activity(rng, ids, i) for i in range(activities)]
    data.users = [_user(rng, ids, i) for i in range(users)]
    counts = _spread(rng, registrations, activities, users)
    for activity, count in zip(data.activities, counts, strict=True):
        created = local_seconds(activity["created_time"])
        for user_index in rng.sample(range(users), count):
            user_id = data.users[user_index]["omni_user_uuid"]
            data.registrations.append(_registration(rng, ids, activity, created, user_id))
        activity["registration_count"] = count
    return data


def _spread(rng: random.Random, total: int, buckets: int, cap: int) -> list[int]:
    """Split `total` registrations unevenly over activities, none above `cap` users."""
    if buckets == 0:
        return []
    weights = [rng.uniform(0.3, 1.7) for _ in range(buckets)]
    scale = total / sum(weights)
    return [min(cap, round(w * scale)) for w in weights]


def _past(rng: random.Random, start: int = ANCHOR - HISTORY_DAYS * DAY) -> int:
    return _between(rng, start, ANCHOR)


def _between(rng: random.Random, low: int, high: int) -> int:
    """A second in [low, high); `randrange` is three times slower and this runs 300k times."""
    return low + int(rng.random() * (high - low))


_DAYS: dict[int, str] = {}


def _text(seconds: int) -> str:
    """`text_from_local_seconds`, with the date part cached (seeding formats 300k times)."""
    day, rest = divmod(seconds, DAY)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = text_from_local_seconds(day * DAY)[:10]
    hours, rest = divmod(rest, 3600)
    return f"{date} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _activity(rng: random.Random, ids: IdMaker, index: int) -> Row:
    created = _past(rng)
    updated = _past(rng, created)
    start = created + rng.randrange(7 * DAY, 90 * DAY)
    online = rng.random() < 0.4
    city = rng.choice(_CITIES)
    status = rng.choices(("published", "ended", "draft", "cancelled"), (70, 15, 8, 7))[0]
    return {
        "entity_uuid": ids.new(),
        "name": f"{rng.choice(_TOPICS)} · {'Online' if online else city} #{index + 1}",
        "activity_type": "online" if online else "offline",
        "status": status,
        "start_time": _text(start - start % 1800),
        "end_time": _text(start - start % 1800 + rng.randrange(2, 9) * 3600),
        "address": "" if online else f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}, {city}",
        "capacity": None if online and rng.random() < 0.5 else rng.randrange(50, 2000, 50),
        "registration_count": 0,
        "created_time": _text(created),
        "updated_time": _text(updated),
        "description": f"Sandbox activity {index + 1}, seeded data for tests and demos.",
        "form_fields": [dict(f) for f in FORM_FIELDS],
    }


def _user(rng: random.Random, ids: IdMaker, index: int) -> Row:
    created = _past(rng)
    name = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
    identities = []
    if rng.random() < 0.7:
        mobile = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        identities.append({"type": "mobile", "value": mobile, "name": name})
    if rng.random() < 0.35:
        email = f"user{index + 1}@example.com"
        identities.append({"type": "email", "value": email, "name": name})
    if rng.random() < 0.3:
        openid = "o" + "".join(rng.choices(BASE57, k=27))
        identities.append({"type": "wechat_openid", "value": openid, "name": name})
    fields: dict[str, str] = {"name": name}
    if rng.random() < 0.6:
        fields["company"] = rng.choice(_COMPANIES)
        fields["job_title"] = rng.choice(_TITLES)
    if rng.random() < 0.5:
        fields["city"] = rng.choice(_CITIES)
    return {
        "omni_user_uuid": ids.new(),
        "identities": identities,
        "fields": fields,
        "created_time": _text(created),
        "updated_time": _text(_past(rng, created)),
    }


def _registration(
    rng: random.Random, ids: IdMaker, activity: Row, created: int, user_id: str
) -> Row:
    registered = _past(rng, created)
    draw = rng.random()
    approve = "0" if draw < 0.45 else "1" if draw < 0.85 else "2"
    approved_at = _between(rng, registered, ANCHOR + 1) if approve != "0" else 0
    signed_in = approve == "1" and rng.random() < 0.4
    signed_at = _between(rng, approved_at, ANCHOR + 1) if signed_in else 0
    return {
        "target_entity_uuid": activity["entity_uuid"],
        "jing_uuid": ids.new(),
        "omni_user_uuid": user_id,
        "ems_approvestatus": approve,
        "ems_approvetimestamp": _text(approved_at) if approved_at else "",
        "ems_signinstatus": "1" if signed_in else "0",
        "ems_signintimestamp": _text(signed_at) if signed_at else "",
        "registration_time": _text(registered),
        "updated_time": _text(max(registered, approved_at, signed_at)),
    }


def new_user(user_id: str, now: str) -> Row:
    """A bare user, as `/_sandbox/register` creates for an unknown id."""
    return {
        "omni_user_uuid": user_id,
        "identities": [],
        "fields": {},
        "created_time": now,
        "updated_time": now,
    }


def new_registration(jing_uuid: str, entity_uuid: str, user_id: str, now: str) -> Row:
    """A fresh, pending registration (the state a form submission creates)."""
    return {
        "target_entity_uuid": entity_uuid,
        "jing_uuid": jing_uuid,
        "omni_user_uuid": user_id,
        "ems_approvestatus": "0",
        "ems_approvetimestamp": "",
        "ems_signinstatus": "0",
        "ems_signintimestamp": "",
        "registration_time": now,
        "updated_time": now,
    }
