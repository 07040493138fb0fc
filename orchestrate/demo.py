"""The interim demo: a sandbox, a token, one page of activities, printed.

`make demo` runs this until the full pipeline (issue 5) replaces it. It shows the
client working end to end against the local sandbox with its default data.
"""

from __future__ import annotations

import sys

from jing_client import ClientSettings, JingClient, JingError
from jing_sandbox.process import SandboxProcess

COLUMNS = ("entity_uuid", "name", "activity_type", "status", "start_time", "registration_count")


def main() -> int:
    """Start the sandbox, list the first page of activities and print it; 0 on success."""
    with SandboxProcess() as sandbox:
        print(f"sandbox listening on {sandbox.url} (app_id {sandbox.app_id})")
        settings = ClientSettings.from_config(sandbox.config())
        try:
            with JingClient(settings) as client:
                envelope = client.call(settings.paths.activity_list, {"page": 1, "page_size": 10})
                stats = client.stats()
        except JingError as error:
            print(f"the sandbox did not answer as expected: {error}", file=sys.stderr)
            return 1
    items = envelope.data["list"]
    print(f"got a token ({stats['token_fetches']} fetched), then {settings.paths.activity_list}")
    print(f"request_id {envelope.request_id}: {len(items)} of {envelope.data['total']} activities")
    widths = [max(len(c), *(len(str(item.get(c, ""))) for item in items)) for c in COLUMNS]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    for item in items:
        cells = (str(item.get(c, "")) for c in COLUMNS)
        print("  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
