"""Store unavailable: while another process holds the SQLite file's write lock, a
submission cannot be stored; the store timeout turns the wait into 503 + Retry-After
(never a hang or a 500), and the service recovers by itself once the lock is gone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conveyor.web import WebSettings
from tests.web.conftest import StartServer
from tests.web.test_jobs_api import assert_problem, submit

HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
    connection.execute("ROLLBACK")
    """
)


@pytest.mark.slow
def test_submissions_answer_503_while_the_store_is_locked_then_recover(
    start_sqlite_server: StartServer, tmp_path: Path
) -> None:
    live = start_sqlite_server(WebSettings(auth=False, store_timeout=0.5, retry_after=3))
    add = {"type": "math.add", "payload": {"a": 1, "b": 2}}
    with live.client(None) as client:
        assert submit(client, add).status_code == 202  # the store is open and migrated
        with subprocess.Popen(
            [sys.executable, "-c", HOLD_WRITE_LOCK, str(tmp_path / "web.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            assert holder.stdin is not None
            assert holder.stdout is not None
            try:
                assert holder.stdout.readline().strip() == "locked"
                refused = submit(client, {**add, "idempotency_key": "during-outage"})
                body = assert_problem(refused, 503, "store-unavailable")
                assert refused.headers["retry-after"] == "3"
                assert "0.5 s" in body["detail"]
            finally:
                holder.stdin.close()  # the holder rolls back and exits: the lock is gone
                holder.wait(timeout=20)
        # Recovery: no restart; the next submissions are stored. The one that timed out
        # may have been stored after all (its write waited for the lock), which is why
        # clients retry with the same Idempotency-Key: they get that job back (200).
        deadline = time.monotonic() + 30
        while True:
            retried = submit(client, {**add, "idempotency_key": "during-outage"})
            if retried.status_code in (200, 202) or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # waiting on a fact (the store answering), with a deadline
        assert retried.status_code in (200, 202), retried.text
        assert submit(client, add).status_code == 202
        assert client.get("/readyz").status_code == 200
        keyed = client.get("/v1/jobs", params={"idempotency_key": "during-outage"}).json()
    assert len(keyed["items"]) == 1
