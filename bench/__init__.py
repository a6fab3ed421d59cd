"""conveyor's benchmark: one command, conveyor and its peers on the same SQLite, same run.

``python -m bench`` measures enqueue rates, drain throughput, enqueue-to-start latency
and the raw ceiling of SQLite on this machine, then prints one table with the ratio of
conveyor to each peer (see ``docs/benchmarks.md``). Every measurement runs in its own
subprocess, one at a time: conveyor in the project's ``.venv``, peers in their own venv
(``bench/.peers/venv``), so both pay for process start-up and imports the same way.

This package must stay importable without conveyor or any peer installed: the modules
that run inside a peer's venv (``bench.probe``, ``bench.pacing``, ``bench.peers.*``)
import only the standard library and that peer.
"""
