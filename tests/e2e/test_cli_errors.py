"""Bad input: one clear ``error: ...`` line on stderr, a non-zero exit, no traceback.

Exit code 2 is click's for usage errors (bad options, arguments, ``--app``); 1 is for
errors found while doing the work (unknown job, invalid payload, store problems).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.support import Project

APP = ("--app", "e2e_app:app")
MISSING_DIR_URL = "sqlite:///missing/dir/jobs.db"  # relative to the project directory
ECHO = ("echo", '{"text": "x"}')


def assert_user_error(done: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    assert fragment in lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        pytest.param(("enqueue", *APP, "nope", "{}"), 1, "Unknown job type 'nope'", id="job-name"),
        pytest.param(
            ("status", "01a20000-0000-7000-8000-000000000000"), 1, "No job with id", id="job-id"
        ),
        pytest.param(("enqueue", *APP, "echo", "{text: 1}"), 2, "not valid JSON", id="json"),
        pytest.param(
            ("enqueue", *APP, "echo", '{"txt": "x"}'), 1, "text: Field required", id="payload"
        ),
        pytest.param(
            ("stats", "--url", "mysql://localhost/jobs"),
            1,
            "Unknown store URL scheme mysql://",
            id="url-scheme",
        ),
        pytest.param(
            ("enqueue", *APP, "--url", MISSING_DIR_URL, *ECHO),
            1,
            "does not exist",
            id="enqueue-missing-dir",
        ),
        pytest.param(
            ("worker", *APP, "--url", MISSING_DIR_URL, "--burst"),
            1,
            "does not exist",
            id="worker-missing-dir",
        ),
        pytest.param(
            ("worker", *APP, "--url", MISSING_DIR_URL, "--processes", "2"),
            1,
            "does not exist",
            id="supervisor-missing-dir",
        ),
        pytest.param(
            ("migrate", "--url", MISSING_DIR_URL), 1, "does not exist", id="migrate-missing-dir"
        ),
        pytest.param(("jobs", "--cursor", "not-a-cursor"), 1, "Invalid cursor", id="cursor"),
        pytest.param(
            ("enqueue", "--app", "no_such_module:app", *ECHO),
            2,
            "no module named 'no_such_module'",
            id="app-module",
        ),
        pytest.param(
            ("enqueue", "--app", "e2e_app:missing", *ECHO),
            2,
            "has no attribute 'missing'",
            id="app-attribute",
        ),
        pytest.param(
            ("enqueue", "--app", "e2e_app:Echo", *ECHO), 2, "not a Conveyor app", id="app-type"
        ),
        pytest.param(
            ("enqueue", "--app", "e2e_app", *ECHO), 2, "expected MODULE:ATTRIBUTE", id="app-spec"
        ),
        pytest.param(
            ("worker", "--app", "broken_app:app"),
            2,
            "No module named 'a_dependency_that_is_not_installed'",
            id="app-import-fails",
        ),
        pytest.param(("worker", "--burst"), 2, "Missing option '--app'", id="app-missing"),
        pytest.param(("worker", *APP, "--lease-seconds", "0"), 2, "'--lease-seconds'", id="lease"),
        pytest.param(("jobs", "--state", "lost"), 2, "'--state'", id="state"),
    ],
)
def test_bad_input_prints_one_error_line(
    project: Project, args: tuple[str, ...], code: int, fragment: str
) -> None:
    project.write_module("broken_app", "import a_dependency_that_is_not_installed\n")

    assert_user_error(project.run(*args), code, fragment)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Path:
    """A directory where no new file can be created."""
    if os.geteuid() == 0:
        return Path("/proc")  # root ignores permission bits; /proc takes no new files
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o555)
    return directory


def test_store_in_a_read_only_directory(project: Project, read_only_dir: Path) -> None:
    url = f"sqlite:///{read_only_dir / 'jobs.db'}"

    assert_user_error(project.run("enqueue", *APP, "--url", url, *ECHO), 1, str(read_only_dir))
