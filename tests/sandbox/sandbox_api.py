"""A bare client for sandbox tests, written from jing-api.md alone (not `jing_client`)."""

from __future__ import annotations

from typing import Any

import requests

from jing_sandbox.process import SandboxProcess

TOKEN = "/v1/oauth2/token"
REFRESH = "/v1/oauth2/token/refresh"
ACTIVITY_LIST = "/v1/activity/list"
ACTIVITY_DETAIL = "/v1/activity/detail"
ACTIVITY_USERS = "/v1/activity/user/list"
BATCH = "/v1/activity/update/userStatus/batch"
USER_LIST = "/v1/user/list"


class Api:
    """POSTs JSON with the `app_id` / `access_token` headers; no retries, no parsing magic."""

    def __init__(self, sb: SandboxProcess) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.access_token = ""
        self.refresh_token = ""

    def login(self) -> dict[str, Any]:
        answer = self.post(TOKEN, {"app_id": self.sb.app_id, "app_secret": self.sb.app_secret})
        assert answer["code"] == 0, answer
        self.access_token = answer["data"]["access_token"]
        self.refresh_token = answer["data"]["refresh_token"]
        return answer["data"]

    def raw(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        headers = {"app_id": self.sb.app_id, "access_token": self.access_token}
        return self.session.post(
            self.sb.url + path, json=body, headers=headers, timeout=30, **kwargs
        )

    def post(self, path: str, body: Any) -> dict[str, Any]:
        answer = self.raw(path, body)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        return answer.json()

    def ok(self, path: str, body: Any) -> Any:
        """`data` of a call that must answer code 0."""
        answer = self.post(path, body)
        assert answer["code"] == 0, answer
        return answer["data"]

    def first_activity(self) -> str:
        return self.ok(ACTIVITY_LIST, {"page": 1, "page_size": 1})["list"][0]["entity_uuid"]

    def all_pages(self, path: str, body: dict[str, Any], page_size: int = 100) -> list[Any]:
        """Every item of a listing, page by page, until a short page."""
        rows: list[Any] = []
        page = 1
        while True:
            data = self.ok(path, {**body, "page": page, "page_size": page_size})
            rows += data["list"]
            if len(data["list"]) < page_size:
                return rows
            page += 1

    def registrants(self, entity_uuid: str) -> list[dict[str, Any]]:
        """Every registration of one activity, oldest update first."""
        return self.all_pages(ACTIVITY_USERS, {"entity_uuid": entity_uuid})
