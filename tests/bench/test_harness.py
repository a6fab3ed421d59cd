"""The parts of the benchmark harness that decide what a figure means: the completion
probe (counting across processes, forked ones included), the best-peer ratio, the fresh
places in the shared servers and their clean-up, and the lineup skip lines. No timing is
asserted anywhere: speed is what ``python -m bench`` reports, not what tests check."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
import redis
from bench.libraries import LINEUPS
from bench.libraries.conveyor import Conveyor
from bench.plan import WORKLOADS, Plan
from bench.probe import read_totals
from bench.report import Row, goals
from bench.stats import Summary
from bench.suite import Suite

from bench import places
from conveyor.backends import _SCHEMES

REPO_ROOT = Path(__file__).resolve().parents[2]

# A worker-like process: 3 hits in the parent, then a forked child that makes 2 and
# exits normally (its atexit flush), while the parent's flusher thread writes its own.
FORKING_WORKER = textwrap.dedent(
    """
    import os, sys, time
    from bench.probe import probe_from_env
    probe = probe_from_env()
    for seq in range(3):
        probe.hit(seq, time.time() - 0.001)
    pid = os.fork()
    if pid == 0:
        probe.hit()
        probe.hit()
        sys.exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.1)  # the parent's flusher thread runs every 5 ms
    """
)


def test_probe_counts_every_process_including_forked_children(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", FORKING_WORKER],
        cwd=REPO_ROOT,
        env={"BENCH_PROBE_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)},
        check=True,
        timeout=30,
    )
    totals = read_totals(tmp_path)
    assert totals.count == 5
    assert totals.processes == 2
    assert sorted(totals.latencies) == [0, 1, 2]  # only the parent's stamped hits
    assert totals.first <= totals.last
    assert totals.rss_kib > 0


def test_read_totals_of_an_empty_directory_is_zero(tmp_path: Path) -> None:
    assert read_totals(tmp_path).count == 0


def _summary(value: float) -> Summary:
    return Summary.of([value])


def test_ratio_is_against_the_best_peer_highest_rate_or_lowest_latency() -> None:
    rate = Row(
        key="w1",
        title="W1",
        unit="jobs/s",
        values={"conveyor": _summary(30), "a": _summary(10), "b": _summary(20)},
    )
    assert rate.best_peer() == "b"
    assert rate.ratio == pytest.approx(1.5)
    latency = Row(
        key="w3_p50",
        title="W3",
        unit="ms",
        better="lower",
        values={"conveyor": _summary(2), "a": _summary(4), "b": _summary(8)},
    )
    assert latency.best_peer() == "a"
    assert latency.ratio == pytest.approx(0.5)


def test_without_a_peer_there_is_no_ratio_and_ratio_goals_are_not_applicable() -> None:
    alone = Row(key="w2_p1_steady", title="W2", unit="jobs/s", values={"conveyor": _summary(5)})
    assert alone.best_peer() is None
    assert alone.ratio is None
    checked = {goal.text: goal.status for goal in goals("postgres", {"w2_p1_steady": alone})}
    assert checked["drain, 1 process >= 1.5x PgQueuer (aim 2x)"] == "n/a"


def test_conveyor_is_in_every_lineup_and_skips_a_store_it_has_no_backend_for() -> None:
    for store, scheme in (("postgres", "postgresql"), ("redis", "redis")):
        assert LINEUPS[store][0] == "conveyor"
        reason = Conveyor.create(store).missing()
        if scheme in _SCHEMES:
            assert reason is None
        else:
            assert reason == f"conveyor has no {scheme} backend in this checkout"
    assert Conveyor.create("sqlite").missing() is None


def test_a_redis_place_deletes_only_its_own_keys(redis_url: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(f"{places.redis_url()}/{places.PEERS_REDIS_DB}")
    client.set("bench-test-bystander", "1")
    try:
        with places.fresh("redis", tmp_path, redis_patterns=("{prefix}:*",)) as place:
            client.set(f"{place.name}:a", "1")
            client.set(f"{place.name}:b", "1")
        assert client.keys(f"{place.name}:*") == []
        assert client.get("bench-test-bystander") == b"1"
    finally:
        client.delete("bench-test-bystander")
        client.close()


def test_a_postgres_place_is_a_fresh_database_dropped_afterwards(
    postgres_url: str, tmp_path: Path
) -> None:
    with (
        places.fresh("postgres", tmp_path) as place,
        psycopg.connect(place.postgres, autocommit=True) as connection,
    ):
        connection.execute("CREATE TABLE t (x int)")
    with psycopg.connect(places.postgres_url()) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (place.name,)
        ).fetchone()
    assert found == (0,)


def test_a_postgres_schema_place_is_dropped_afterwards(postgres_url: str, tmp_path: Path) -> None:
    with places.fresh("postgres", tmp_path, pg_place="schema") as place:
        assert place.postgres == places.postgres_url()
    with psycopg.connect(places.postgres_url()) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (place.schema,)
        ).fetchone()
    assert found == (0,)


def test_a_run_limited_to_some_workloads_measures_only_those(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = Plan.build(quick=False, jobs=100, repeat=1, only=None, workloads=("w3", "raw"))
    assert Plan.build(quick=False, jobs=100, repeat=1, only=None).workloads == WORKLOADS
    ran: list[str] = []
    for method, name in (
        ("raw_ceilings", "raw"),
        ("enqueue", "w1"),
        ("bulk_enqueue", "w1b"),
        ("drain", "w2"),
        ("latency", "w3"),
        ("io_bound", "w4"),
    ):
        monkeypatch.setattr(Suite, method, lambda self, name=name: ran.append(name))
    libraries = {"conveyor": Conveyor.create("sqlite")}

    Suite(plan, "sqlite", tmp_path, libraries).run()

    assert ran == ["raw", "w3"]


def test_an_unknown_workload_is_refused_by_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--workload", "w9"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice: 'w9'" in result.stderr
