"""Typed job types: registration, payload validation, result serialisation (no store I/O)."""

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel

from conveyor import Conveyor, JobContext
from conveyor.errors import (
    ConfigurationError,
    DuplicateJobTypeError,
    PayloadValidationError,
    ResultSerializationError,
    UnknownJobTypeError,
)
from conveyor.jobs import EnqueueOptions, new_job_id
from conveyor.testing import FakeClock


class Add(BaseModel):
    a: int
    b: int


class Sum(BaseModel):
    total: int


@pytest.fixture
def app() -> Conveyor:
    app = Conveyor("sqlite:///unused.db", clock=FakeClock())

    @app.job("math.add", max_attempts=4, queue="maths", priority=3)
    async def add(payload: Add, ctx: JobContext) -> Sum:
        return Sum(total=payload.a + payload.b)

    @app.job("plain")
    def plain(payload: dict[str, Any]) -> None:
        return None

    return app


def test_prepare_validates_and_applies_defaults(app: Conveyor) -> None:
    new = app.job_type("math.add").prepare({"a": 1, "b": "2"}, EnqueueOptions())
    assert new.payload_json == '{"a":1,"b":2}'
    assert (new.queue, new.priority, new.max_attempts) == ("maths", 3, 4)
    assert new.run_at is None


def test_prepare_accepts_a_model_instance(app: Conveyor) -> None:
    new = app.job_type("math.add").prepare(Add(a=1, b=2), EnqueueOptions(priority=-1))
    assert new.payload_json == '{"a":1,"b":2}'
    assert new.priority == -1


def test_bad_payload_names_the_field(app: Conveyor) -> None:
    with pytest.raises(PayloadValidationError, match=r"math\.add.*b: ") as info:
        app.job_type("math.add").prepare({"a": 1, "b": "two"}, EnqueueOptions())
    assert info.value.errors[0]["loc"] == ["b"]


def test_missing_field(app: Conveyor) -> None:
    with pytest.raises(PayloadValidationError, match="a: Field required"):
        app.job_type("math.add").prepare({"b": 1}, EnqueueOptions())


def test_unknown_job_type_lists_known_ones(app: Conveyor) -> None:
    with pytest.raises(UnknownJobTypeError, match=r"'nope'.*math\.add, plain"):
        app.job_type("nope")


def test_duplicate_registration(app: Conveyor) -> None:
    with pytest.raises(DuplicateJobTypeError):

        @app.job("plain")
        def again(payload: dict[str, Any]) -> None: ...


def test_result_is_serialised_from_the_annotation(app: Conveyor) -> None:
    assert app.job_type("math.add").dump_result(Sum(total=3)) == '{"total":3}'


def test_unserialisable_result_is_a_clear_error(app: Conveyor) -> None:
    with pytest.raises(ResultSerializationError, match="cannot be stored as JSON"):
        app.job_type("plain").dump_result(object())


def test_delay_becomes_run_at(app: Conveyor) -> None:
    assert isinstance(app.clock, FakeClock)
    new = app.job_type("plain").prepare({}, EnqueueOptions(delay=10))
    assert new.run_at == app.clock.now() + dt.timedelta(seconds=10)


def test_naive_run_at_is_refused(app: Conveyor) -> None:
    naive = dt.datetime(2030, 1, 1)  # noqa: DTZ001 (the point of the test)
    with pytest.raises(ValueError, match="aware"):
        app.job_type("plain").prepare({}, EnqueueOptions(run_at=naive))


def test_delay_and_run_at_together_are_refused(app: Conveyor) -> None:
    with pytest.raises(ValueError, match="either delay or run_at"):
        app.job_type("plain").prepare(
            {}, EnqueueOptions(delay=1, run_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        )


def test_max_attempts_must_be_positive(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="max_attempts"):
        app.job_type("plain").prepare({}, EnqueueOptions(max_attempts=0))


def test_handler_signature_is_checked(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="positional parameters"):

        @app.job("bad")
        def bad(a: int, b: int, c: int) -> None: ...


def test_job_ids_are_time_ordered() -> None:
    ids = [new_job_id() for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


async def test_calling_the_job_type_calls_the_handler(app: Conveyor) -> None:
    ctx = JobContext(
        job_id="x",
        job_type="math.add",
        attempt=1,
        max_attempts=1,
        queue="maths",
        priority=0,
        tenant=None,
        idempotency_key=None,
        worker_id="w",
    )
    assert await app.job_type("math.add")(Add(a=2, b=3), ctx) == Sum(total=5)
