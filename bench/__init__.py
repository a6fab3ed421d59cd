"""conveyor's benchmark: one command, conveyor and its peers on each store, same run.

``python -m bench`` measures enqueue rates, drain throughput (one and two worker
processes), enqueue-to-start latency, I/O-bound jobs, worker memory and the raw ceilings
of SQLite, PostgreSQL and Redis on this machine, then prints one table per store with
conveyor's ratio against the best peer on that store (see ``docs/benchmarks.md``).
Every measurement runs in its own subprocesses, one at a time: conveyor in the project's
``.venv``, peers in their own venvs (``bench/.peers/``), so all pay for process start-up
and imports the same way.

This package must stay importable without conveyor or any peer installed: the modules
that run inside a peer's venv (``bench.probe``, ``bench.pacing``, ``bench.clientcli``,
``bench.peers.*``) import only the standard library and that peer.
"""
