"""The sandbox's state and one business call from raw bytes to a `Reply`.

The order of a call: count it, check the limits (over them: a throttling answer),
draw its faults, answer a before-effect fault without touching anything, check the
token, run the endpoint, then let an after-effect fault spoil the answer. The HTTP
layer (`server.py`) only moves bytes.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jing_sandbox import api
from jing_sandbox.answer_styles import NO_DATA, restyle
from jing_sandbox.data import Dataset, generate
from jing_sandbox.faults import Decision, Faults
from jing_sandbox.json_text import json_bytes
from jing_sandbox.limits import Limits
from jing_sandbox.settings import SandboxSettings
from jing_sandbox.stats import Stats
from jing_sandbox.store import Store, StoreClosed
from jing_sandbox.timefmt import now_ms
from jing_sandbox.tokens import INVALID, OK, TokenStore

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
ERROR_PAGE = (
    b"<html><head><title>{status} Error</title></head><body><center><h1>{status} Error"
    b"</h1></center><hr><center>jing-gateway</center></body></html>"
)


@dataclass
class Reply:
    """What to put on the wire. `action`: "send", "drop" (close, say nothing) or "cutoff"
    (announce the full length, write half the body, close)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "send"


class Sandbox:
    """Settings, data, tokens, limits, faults and stats of one running sandbox."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.limits = Limits()
        self.tokens = TokenStore()
        fault_seed = settings.seed if settings.fault_seed is None else settings.fault_seed
        self.faults = Faults(fault_seed, settings.slow_seconds)
        if settings.faults:
            self.faults.set({"path": "*", **settings.faults})
        if settings.db is not None and settings.db.exists():
            dataset = Store.read_file(settings.db)
        else:
            dataset = self.seeded()
        self.store = Store(dataset, settings.db)

    def seeded(self) -> Dataset:
        s = self.settings
        return generate(s.seed, s.activities, s.users, s.registrations)

    # -- one business call ----------------------------------------------------------------

    def business(
        self, path: str, headers: dict[str, str], raw: bytes, app: str, in_flight: int
    ) -> Reply:
        """Answer one non-admin request of `app`, which has `in_flight` requests (this one too).

        The caller counts the request in flight (`limits.enter`) before and leaves after
        writing the answer.
        """
        self.stats.call(path)
        route = api.ROUTES.get(path)
        if route is None:
            return self._envelope(
                path, api.Outcome(api.NOT_FOUND, f"no such endpoint: {path}"), 404
            )
        decision = self.faults.decide(path)
        if decision.before == "throttle" or not self.limits.admit(
            app, in_flight, self.settings.rate_limit, self.settings.max_in_flight
        ):
            if decision.before == "throttle":
                self.stats.fault("throttle")
            return self._throttled(path)
        if self.settings.latency_ms:  # the network's delay: every answer, not a fault
            time.sleep(self.settings.latency_ms / 1000)
        if decision.slow_seconds:
            self.stats.fault("slow")
            time.sleep(decision.slow_seconds)
        if decision.before:
            self.stats.fault(decision.before)
            return self._fault_reply(path, decision)
        reply = self._run(path, route, headers, raw)
        if decision.after:
            self.stats.fault(decision.after)
            return self._spoil(reply, decision.after)
        return reply

    def _run(
        self, path: str, route: tuple[api.Handler, bool], headers: dict[str, str], raw: bytes
    ) -> Reply:
        handler, needs_token = route
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._envelope(
                path, api.Outcome(api.BAD_PARAMETER, "body must be a JSON object")
            )
        try:
            if needs_token:
                self._authenticate(headers)
            outcome = handler(self, body)
        except api.ApiError as exc:
            outcome = api.Outcome(exc.code, exc.msg)
        except StoreClosed:
            self.stats.answer("http_503")
            page = ERROR_PAGE.replace(b"{status}", b"503")
            return Reply(503, page, {"Content-Type": HTML_TYPE})
        return self._envelope(path, outcome)

    def _authenticate(self, headers: dict[str, str]) -> None:
        app_id = headers.get("app_id", "")
        if app_id != self.settings.app_id:
            raise api.ApiError(api.BAD_CREDENTIALS, "header app_id is missing or unknown")
        access = headers.get("access_token", "")
        if not access:
            raise api.ApiError(INVALID, "header access_token is missing")
        code = self.tokens.check(app_id, access)
        if code != OK:
            raise api.ApiError(
                code, "access_token is invalid" if code == INVALID else "access_token has expired"
            )
        self.tokens.count_call(self.settings.expire_token_every)

    @staticmethod
    def app_of(headers: dict[str, str], raw: bytes) -> str:
        """The app a request is limited under: the app_id header, else the token body's."""
        app = headers.get("app_id")
        if app:
            return app
        try:
            value = json.loads(raw).get("app_id")
        except (ValueError, AttributeError):
            return "-"
        return value if isinstance(value, str) else "-"

    # -- answers --------------------------------------------------------------------------

    def _envelope(
        self, path: str, outcome: api.Outcome, status: int = 200, **headers: str
    ) -> Reply:
        self.stats.answer(outcome.code)
        doc: dict[str, Any] = {
            "request_id": uuid.uuid4().hex,
            "code": outcome.code,
            "msg": outcome.msg,
        }
        data = outcome.data
        style = self.settings.answer_style
        if path == api.BATCH_UPDATE_PATH:
            doc["message"] = outcome.msg
            if outcome.code == 0 and style != "echo":
                if style == "non_json":
                    page = ERROR_PAGE.replace(b"{status}", b"200")
                    return Reply(200, page, {"Content-Type": HTML_TYPE})
                data = restyle(style, data, outcome.asked)
        if data is not NO_DATA:
            doc["data"] = data
        doc["timestamp"] = now_ms()
        body = json_bytes(doc, separators=(",", ":"))
        return Reply(status, body, {"Content-Type": JSON_TYPE, **headers})

    def _throttled(self, path: str) -> Reply:
        as_http = self.faults.chance(self.settings.throttle_http_ratio)
        self.stats.throttled(as_http)
        outcome = api.Outcome(api.THROTTLED, "too many requests, slow down")
        retry = {"Retry-After": str(self.settings.retry_after)}
        return self._envelope(path, outcome, 429 if as_http else 200, **retry)

    def _fault_reply(self, path: str, decision: Decision) -> Reply:
        kind = decision.before
        if kind == "drop":
            self.stats.answer("dropped")
            return Reply(0, action="drop")
        if kind == "http_5xx":
            status = self.faults.pick((500, 502, 503))
            self.stats.answer(f"http_{status}")
            page = ERROR_PAGE.replace(b"{status}", str(status).encode())
            body = self.faults.pick((page, b""))
            return Reply(status, body, {"Content-Type": HTML_TYPE})
        if kind == "code_50000":
            return self._envelope(path, api.Outcome(api.INTERNAL, "internal error, try again"))
        return self._envelope(
            path, api.Outcome(api.PERMISSION, f"this app has no permission for {path}")
        )

    def _spoil(self, reply: Reply, kind: str) -> Reply:
        """The call took effect; now its answer is lost (drop_after) or garbled (malformed)."""
        if kind == "drop_after":
            return Reply(0, action="drop")
        form = self.faults.pick(("html", "truncated", "cutoff", "empty"))
        if form == "html":
            page = ERROR_PAGE.replace(b"{status}", b"200")
            return Reply(200, page, {"Content-Type": HTML_TYPE})
        if form == "empty":
            return Reply(200, b"", {"Content-Type": JSON_TYPE})
        cut = reply.body[: max(1, len(reply.body) // 2)]
        if form == "truncated":
            return Reply(reply.status, cut, reply.headers)
        return Reply(reply.status, reply.body, reply.headers, action="cutoff")

    # -- admin helpers --------------------------------------------------------------------

    def stats_snapshot(self) -> dict[str, Any]:
        return self.stats.snapshot(self.limits.max_in_flight_seen)

    def reset(self, data: bool) -> None:
        self.stats.reset()
        self.limits.reset_stats()
        if data:
            self.store.load(self.seeded())
