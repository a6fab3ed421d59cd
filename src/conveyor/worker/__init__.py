"""Execution: the worker (claim loop, heartbeats, acks), the executor (one attempt) and
the ``JobContext`` handlers receive."""
