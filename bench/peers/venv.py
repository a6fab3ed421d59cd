"""The peers' venvs under ``bench/.peers/``, each built from a pinned requirements file.

``venv`` (``requirements-peers.txt``) holds every peer but arq, which has ``arq``
(``requirements-peers-arq.txt``): arq requires ``redis<6`` and Celery's ``kombu[redis]``
requires ``redis>=6.4``, so they cannot share one.

Each is created on first use with ``python -m venv`` (from the interpreter running the
harness, so peers and conveyor share one Python and one SQLite library) and ``pip
install -r``; rebuilt when its requirements file changes. ``bench/.peers`` is gitignored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
PEERS_DIR = BENCH_DIR / ".peers"
#: venv name -> its requirements file.
VENVS = {
    "venv": BENCH_DIR / "requirements-peers.txt",
    "arq": BENCH_DIR / "requirements-peers-arq.txt",
}


def peers_python(name: str = "venv") -> Path:
    """The interpreter of the peers' venv ``name``, creating or updating it first.

    Raises ``subprocess.CalledProcessError`` if venv creation or pip fails (pip's
    output is shown: it says what could not be installed).
    """
    directory = PEERS_DIR / name
    python = directory / "bin" / "python"
    stamp = directory / "installed-requirements.txt"
    wanted = VENVS[name].read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"setting up the peers' venv {directory} ...", file=sys.stderr, flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(VENVS[name])], check=True
    )
    stamp.write_text(wanted)
    return python


def installed_version(python: Path, distribution: str) -> str:
    """The version of ``distribution`` installed in the venv of ``python``."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    result = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return result.stdout.strip()
