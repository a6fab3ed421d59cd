"""schemathesis against ``/openapi.json`` of a real server: generated requests (valid
and invalid) find no server error and no response that breaks the documented schema
(status codes, content types, bodies, headers). Examples are bounded to keep it short.

Excluded: schemathesis's two leniency checks. "Schema-valid request rejected": the schema
says a payload is any JSON; which payload a job type accepts is its own model's business
(served by ``GET /v1/job-types``), so a 422 for a generated payload is correct.
"Schema-violating request accepted": unknown query parameters are ignored, as HTTP APIs
usually do. Neither is a server error or a response that breaks the schema.

Requests that uvicorn's HTTP parser refuses (e.g. a generated header value that is not
valid HTTP) never reach the application: uvicorn answers them with its own plain-text
400, which no route of ours can document. Those are counted, not validated.

The operations are driven from one test (schemathesis's pytest fixture integration
does not run under this pytest), each with its own hypothesis run.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import CheckFunction, GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from conveyor.web import WebSettings
from tests.web.conftest import StartServer

EXAMPLES_PER_OPERATION = 20
EXCLUDED: list[CheckFunction] = [positive_data_acceptance, negative_data_rejection]
#: uvicorn's answer to a request its HTTP parser refuses (see the module docstring).
REFUSED_BY_HTTP_PARSER = b"Invalid HTTP request received."


@pytest.mark.slow
def test_no_server_error_and_no_schema_violation(start_server: StartServer) -> None:
    live = start_server(WebSettings(max_body_bytes=64 * 1024))
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    headers = {"Authorization": f"Bearer {live.keys.admin}"}
    tested = []
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an invalid schema fails here, as it should
    for operation, mode in itertools.product(operations, GenerationMode):
        tested.append(operation.label)

        label = operation.label

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers)
            statuses[label, response.status_code] += 1  # noqa: B023 (check() runs in this iteration)
            if response.status_code == 400 and response.content == REFUSED_BY_HTTP_PARSER:
                return
            case.validate_response(response, headers=headers, excluded_checks=EXCLUDED)

        try:
            check()
        except Unsatisfiable:
            # An operation with no inputs (GET /healthz) has no invalid request to make.
            if mode is not GenerationMode.NEGATIVE:
                raise
    assert "POST /v1/jobs" in tested
    assert len(set(tested)) >= 10
    # The run exercised both sides: jobs were accepted, and bad requests were refused.
    assert statuses["POST /v1/jobs", 422] > 0
    assert sum(statuses.values()) >= 5 * len(tested)
