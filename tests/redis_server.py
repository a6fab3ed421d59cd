"""A private, throwaway ``redis-server`` for fault tests (DESIGN.md section 7): its own
free port and directory, so a test can kill and restart it without touching the
shared server that other tests use."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateRedis:
    """One ``redis-server`` process in ``directory`` on a free port.

    ``options`` are redis-server command-line options (e.g. ``["--appendonly",
    "yes"]``). ``restart()`` brings the server back on the same port and directory,
    so it reloads whatever its persistence settings kept.
    """

    def __init__(self, directory: Path, options: Sequence[str] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.options = list(options)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING (10 s at most)."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--save", "", *self.options]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.directory
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                client = redis.Redis(port=self.port, socket_timeout=1)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except redis.RedisError as exc:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise RuntimeError(f"redis-server exited with {code}") from exc
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)  # the server is starting: nothing to wait on but its port

    def kill(self) -> None:
        """SIGKILL the server (a crash) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        self.kill()
