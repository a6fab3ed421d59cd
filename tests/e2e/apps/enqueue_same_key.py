"""Enqueue one ``echo`` job ``COUNT`` times under one idempotency key, in a loop.

Usage: ``python -m tests.e2e.apps.enqueue_same_key URL KEY COUNT GO_FILE``. Prints ``ready``
once the store is open, waits for ``GO_FILE`` to exist (so that several copies start
together), then prints the JSON list of the job ids it got back.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.e2e.apps.e2e_app import build


def report(line: str) -> None:
    """Tell the test (which reads our stdout line by line)."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def main() -> None:
    url, key, count, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    app = build(url)
    app.portal.call(app.open())
    report("ready")
    while not go_file.exists():
        time.sleep(0.005)  # a start line for both processes, not a guess at timing
    echo = app.job_type("echo")
    ids = [echo.enqueue_sync({"text": "once"}, idempotency_key=key).id for _ in range(count)]
    app.portal.call(app.close())
    app.portal.stop()
    report(json.dumps(ids))


if __name__ == "__main__":
    main()
