"""The peers' venv: ``bench/.peers/venv``, built from ``bench/requirements-peers.txt``.

Created on first use with ``python -m venv`` (from the interpreter running the harness,
so peers and conveyor share one Python and one SQLite library) and ``pip install -r``;
rebuilt when the requirements file changes. The directory is gitignored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REQUIREMENTS = BENCH_DIR / "requirements-peers.txt"
VENV_DIR = BENCH_DIR / ".peers" / "venv"
_STAMP = VENV_DIR / "installed-requirements.txt"


def peers_python() -> Path:
    """The peers' interpreter, creating or updating the venv first if needed.

    Raises ``subprocess.CalledProcessError`` if venv creation or pip fails (pip's
    output is shown: it says what could not be installed).
    """
    python = VENV_DIR / "bin" / "python"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and _STAMP.exists() and _STAMP.read_text() == wanted:
        return python
    print(f"setting up the peers' venv in {VENV_DIR} ...", file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True
    )
    _STAMP.write_text(wanted)
    return python


def installed_version(python: Path, distribution: str) -> str:
    """The version of ``distribution`` installed in the venv of ``python``."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    result = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return result.stdout.strip()
