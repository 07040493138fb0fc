"""The script a user would otherwise write: DuckDB -> pandas groupby -> chunks of 100 -> POST.

    python bench/plain_writeback.py WAREHOUSE TABLE BASE_URL APP_ID APP_SECRET

No ledger, no diff, no per-row check: each call's answer is only checked for code 0.
"""

import sys

import duckdb
import pandas as pd
import requests

warehouse, table, url, app_id, app_secret = sys.argv[1:6]
rows = duckdb.connect(warehouse, read_only=True).sql(f"SELECT * FROM {table}").df()
shanghai = pd.to_datetime(rows["signin_time"]) + pd.Timedelta(hours=8)  # the API's zone
rows["signin_time"] = shanghai.dt.strftime("%Y-%m-%d %H:%M:%S")
session = requests.Session()
login = {"app_id": app_id, "app_secret": app_secret}
token = session.post(f"{url}/v1/oauth2/token", json=login).json()["data"]["access_token"]
headers = {"app_id": app_id, "access_token": token}
keys = ["activity_id", "approve_status", "signin_status", "signin_time"]
for (activity, approve, signin, signin_time), group in rows.groupby(keys, dropna=False):
    users = group["user_id"].tolist()
    for start in range(0, len(users), 100):
        body = {"entity_uuid": activity, "user_ids": users[start : start + 100]}
        body |= {"ems_approvestatus": approve, "ems_signinstatus": signin}
        if isinstance(signin_time, str):
            body["ems_signintimestamp"] = signin_time
        answer = session.post(
            f"{url}/v1/activity/update/userStatus/batch", json=body, headers=headers
        )
        assert answer.json()["code"] == 0, answer.text
