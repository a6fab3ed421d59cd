"""The pure parts of the HTTP service: settings from the environment, API keys, the
captured request a handler reads, and the problem mapping table."""

from __future__ import annotations

import hashlib
import json

import pytest

import conveyor.web
from conveyor.errors import (
    ConfigurationError,
    InvalidCursorError,
    InvalidTransitionError,
    JobNotFoundError,
    PayloadValidationError,
    SchemaOutOfDateError,
    StoreUnavailableError,
    UnknownJobTypeError,
)
from conveyor.web.auth import KEY_PREFIX, hash_key, issue_key
from conveyor.web.problems import problem_from
from conveyor.web.settings import WebSettings
from conveyor.worker.context import JobContext, RequestInfo


def test_web_settings_defaults_and_environment() -> None:
    defaults = WebSettings.load(environ={})
    assert defaults.auth is True
    assert defaults.max_body_bytes == 1024 * 1024
    assert defaults.max_waiting_per_queue is None
    assert defaults.redacted == {"authorization", "cookie", "proxy-authorization"}
    env = {
        "CONVEYOR_MAX_BODY_BYTES": "2048",
        "CONVEYOR_STORE_TIMEOUT": "1.5",
        "CONVEYOR_RETRY_AFTER": "9",
        "CONVEYOR_MAX_WAITING_PER_QUEUE": "100",
        "CONVEYOR_MAX_WAITING_PER_TENANT": "10",
        "CONVEYOR_REDACT_HEADERS": "X-Api-Secret, x-other",
    }
    loaded = WebSettings.load(environ=env)
    assert (loaded.max_body_bytes, loaded.store_timeout, loaded.retry_after) == (2048, 1.5, 9)
    assert (loaded.max_waiting_per_queue, loaded.max_waiting_per_tenant) == (100, 10)
    assert {"x-api-secret", "x-other", "cookie"} <= loaded.redacted
    assert WebSettings.load(max_body_bytes=5, environ=env).max_body_bytes == 5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CONVEYOR_MAX_BODY_BYTES", "big", "CONVEYOR_MAX_BODY_BYTES must be an integer"),
        ("CONVEYOR_STORE_TIMEOUT", "soon", "CONVEYOR_STORE_TIMEOUT must be a number"),
        ("CONVEYOR_MAX_WAITING_PER_QUEUE", "0", "max_waiting_per_queue must be at least 1"),
        ("CONVEYOR_STORE_TIMEOUT", "0", "store_timeout must be positive"),
    ],
)
def test_web_settings_errors_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        WebSettings.load(environ={variable: value})


def test_keys_carry_256_random_bits_and_only_their_hash_is_kept() -> None:
    first = issue_key(tenant="acme", name="ci")
    second = issue_key(tenant="acme")
    assert first.secret.startswith(KEY_PREFIX)
    assert len(first.secret) - len(KEY_PREFIX) == 43  # 32 bytes, URL-safe base64
    assert first.secret != second.secret
    assert first.record.id != second.record.id
    assert first.record.key_hash == hashlib.sha256(first.secret.encode()).hexdigest()
    assert first.record.key_hash == hash_key(first.secret)
    assert first.secret not in repr(first.record)
    assert (first.record.tenant, first.record.admin, first.record.name) == ("acme", False, "ci")
    assert issue_key(tenant=None, admin=True).record.admin
    with pytest.raises(ValueError, match="needs a tenant"):
        issue_key(tenant=None)


def _context(meta_json: str | None) -> JobContext:
    return JobContext(
        job_id="j",
        job_type="t",
        attempt=1,
        max_attempts=1,
        queue="default",
        priority=0,
        tenant=None,
        idempotency_key=None,
        worker_id="w",
        meta_json=meta_json,
    )


def test_ctx_request_reads_the_captured_request_from_meta() -> None:
    captured = {
        "method": "POST",
        "path": "/api/x/7",
        "headers": {"x-user": "ada"},
        "path_params": {"id": "7"},
        "query_params": {"q": "1"},
    }
    ctx = _context(json.dumps({"request": captured, "other": 1}))
    request = ctx.request
    assert request == RequestInfo(
        method="POST",
        path="/api/x/7",
        headers={"x-user": "ada"},
        path_params={"id": "7"},
        query_params={"q": "1"},
    )
    assert ctx.meta["other"] == 1
    assert _context(None).request is None
    assert _context(None).meta == {}
    assert _context(json.dumps({"other": 1})).request is None


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (UnknownJobTypeError("x"), 422, "unknown-job-type"),
        (
            PayloadValidationError("x", [{"loc": ["a"], "msg": "bad", "type": "t"}], "a"),
            422,
            "invalid-payload",
        ),
        (JobNotFoundError("j"), 404, "job-not-found"),
        (InvalidTransitionError("no"), 409, "wrong-state"),
        (InvalidCursorError("bad"), 400, "invalid-cursor"),
        (StoreUnavailableError("down"), 503, "store-unavailable"),
        (SchemaOutOfDateError("old"), 503, "store-unavailable"),
    ],
)
def test_problem_table(error: Exception, status: int, slug: str) -> None:
    problem = problem_from(error, retry_after=2)
    assert problem is not None
    assert (problem.status, problem.slug) == (status, slug)
    if status == 503:
        assert problem.headers == {"Retry-After": "2"}


def test_a_bug_is_not_disguised_as_a_client_error() -> None:
    assert problem_from(KeyError("oops"), retry_after=1) is None


def test_web_public_names() -> None:
    assert list(conveyor.web.__all__) == sorted(conveyor.web.__all__)
    for name in conveyor.web.__all__:
        assert hasattr(conveyor.web, name)


def test_enqueue_options_meta_becomes_the_jobs_meta_json() -> None:
    from conveyor import Conveyor
    from conveyor.jobs import EnqueueOptions

    app = Conveyor("sqlite:///unused.db")

    @app.job("t")
    def handler(payload: dict[str, int]) -> None:
        return None

    with_meta = handler.prepare({"a": 1}, EnqueueOptions(meta={"request": {"method": "POST"}}))
    without = handler.prepare({"a": 1}, EnqueueOptions())
    assert with_meta.meta_json is not None
    assert json.loads(with_meta.meta_json) == {"request": {"method": "POST"}}
    assert without.meta_json is None
