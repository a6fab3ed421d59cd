"""The REST API under ``/v1``: submit, read, list, cancel, retry and delete jobs; job
types with their payload schemas; stats.

Routes are thin: authenticate, check the job belongs to the caller's tenant (another
tenant's job answers 404, exactly as a missing one, so ids leak nothing), call the app
through ``Service.call`` (bounded by the store timeout), render. Errors are problem
details (``problems.py``), raised or mapped by the route class (``routing.py``).
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at
# runtime, and the Annotated aliases below are local to build_jobs_router.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from conveyor.errors import JobNotFoundError
from conveyor.jobs import EnqueueOptions, JobType
from conveyor.models import Attempt, Job, Stats
from conveyor.states import JobState
from conveyor.web.auth import Principal
from conveyor.web.problems import Problem, problem_responses
from conveyor.web.routing import problem_route
from conveyor.web.schemas import NO_NUL, JobList, JobTypeInfo, SubmitJob
from conveyor.web.service import Service
from conveyor.web.submit import submit

COMMON = (400, 401, 413, 415, 422, 503)


def build_jobs_router(service: Service) -> APIRouter:
    """The ``/v1`` routes of ``service``'s app."""
    router = APIRouter(
        prefix="/v1",
        tags=["jobs"],
        route_class=problem_route(service.settings),
        responses=problem_responses(*COMMON),
    )
    Who = Annotated[Principal, Depends(service.dependency())]

    @router.post(
        "/jobs",
        status_code=202,
        response_model=Job,
        summary="Submit a job",
        responses={
            200: {
                "model": Job,
                "description": "The job an earlier request with the same "
                "Idempotency-Key submitted (nothing new was stored)",
            },
            **problem_responses(429),
        },
    )
    async def submit_job(
        request: Request,
        response: Response,
        body: SubmitJob,
        principal: Who,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key", description="IETF Idempotency-Key (or the body field)."
            ),
        ] = None,
    ) -> Job:
        """Validate and store a job; answer 202 with it and its ``Location``."""
        key = _key(idempotency_key, body.idempotency_key)
        job_type = service.app.job_type(body.type)
        options = EnqueueOptions(
            delay=body.delay,
            run_at=body.run_at,
            idempotency_key=key,
            tenant=principal.tenant,
            max_attempts=body.max_attempts,
            queue=body.queue,
            priority=body.priority,
        )
        result = await submit(service, job_type, body.payload, options)
        response.headers["Location"] = request.url_for("get_job", job_id=result.job.id).path
        if not result.created:
            response.status_code = 200
        return result.job

    @router.get("/jobs", response_model=JobList, summary="List jobs, newest first")
    async def list_jobs(
        principal: Who,
        state: JobState | None = None,
        type: Annotated[
            str | None, Query(description="Only jobs of this job type.", pattern=NO_NUL)
        ] = None,
        queue: Annotated[str | None, Query(pattern=NO_NUL)] = None,
        idempotency_key: Annotated[str | None, Query(pattern=NO_NUL)] = None,
        tenant: Annotated[str | None, Query(description="Admin keys only.", pattern=NO_NUL)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        cursor: Annotated[
            str | None, Query(description="next_cursor of the previous page.", pattern=NO_NUL)
        ] = None,
    ) -> JobList:
        """Jobs matching every filter; ``next_cursor`` continues the listing."""
        if not principal.admin:
            tenant = principal.tenant
        page = await service.call(
            service.app.list(
                state=state,
                type=type,
                queue=queue,
                tenant=tenant,
                idempotency_key=idempotency_key,
                limit=limit,
                cursor=cursor,
            )
        )
        return JobList(items=page.items, next_cursor=page.next_cursor)

    _add_job_routes(router, service, Who)

    @router.get("/job-types", response_model=list[JobTypeInfo], summary="Registered job types")
    async def job_types(principal: Who) -> list[JobTypeInfo]:
        """Every job type this service accepts, with the JSON Schema of its payload."""
        return [_type_info(t) for _, t in sorted(service.app.registry.items())]

    @router.get("/stats", response_model=Stats, responses=problem_responses(403))
    async def stats(principal: Who) -> Stats:
        """Job counts per state and queue, over every tenant: admin keys only."""
        if not principal.admin:
            raise Problem(403, "admin-only", "Stats cover every tenant; ask with an admin key.")
        return await service.call(service.app.stats())

    return router


def _add_job_routes(router: APIRouter, service: Service, Who: Any) -> None:
    """The routes on one job: read it, its attempts, cancel, retry, delete."""

    async def find(job_id: str, principal: Principal) -> Job:
        backend = await service.call(service.backend())
        job = None if "\x00" in job_id else await service.call(backend.get(job_id))
        if job is None or not principal.can_see(job):
            raise JobNotFoundError(job_id)
        return job

    @router.get("/jobs/{job_id}", response_model=Job, responses=problem_responses(404))
    async def get_job(job_id: str, principal: Who) -> Job:
        """One job: state, result or error, attempts so far."""
        return await find(job_id, principal)

    @router.get(
        "/jobs/{job_id}/attempts",
        response_model=list[Attempt],
        responses=problem_responses(404),
    )
    async def list_attempts(job_id: str, principal: Who) -> list[Attempt]:
        """The attempt history of a job, oldest first."""
        await find(job_id, principal)
        return await service.call(service.app.attempts(job_id))

    @router.post("/jobs/{job_id}/cancel", response_model=Job, responses=problem_responses(404, 409))
    async def cancel_job(job_id: str, principal: Who) -> Job:
        """Cancel a waiting job at once, or ask a running one to stop; 409 if it
        already succeeded or is dead."""
        await find(job_id, principal)
        return await service.call(service.app.cancel(job_id))

    @router.post("/jobs/{job_id}/retry", response_model=Job, responses=problem_responses(404, 409))
    async def retry_job(job_id: str, principal: Who) -> Job:
        """Send a dead job back to ``queued`` with one more attempt; 409 otherwise."""
        await find(job_id, principal)
        return await service.call(service.app.retry(job_id))

    @router.delete(
        "/jobs/{job_id}",
        status_code=204,
        response_class=Response,
        responses=problem_responses(404, 409),
    )
    async def delete_job(job_id: str, principal: Who) -> Response:
        """Delete a finished job with its history; 409 if it has not finished."""
        await find(job_id, principal)
        await service.call(service.app.delete(job_id))
        return Response(status_code=204)


def _key(header: str | None, body: str | None) -> str | None:
    """The idempotency key from the header (a structured-field string, quotes optional)
    or the body; both given must agree."""
    if header is not None:
        header = header.strip()
        if len(header) >= 2 and header[0] == header[-1] == '"':
            header = header[1:-1]
        if not header or len(header) > 255:
            raise Problem(
                422, "invalid-idempotency-key", "Idempotency-Key must be 1-255 characters."
            )
    if header is not None and body is not None and header != body:
        raise Problem(
            422,
            "invalid-idempotency-key",
            "The Idempotency-Key header and the body's idempotency_key differ.",
        )
    return header if header is not None else body


def _type_info(job_type: JobType[Any, Any]) -> JobTypeInfo:
    try:
        schema = job_type.payload_adapter.json_schema()
    except Exception:  # noqa: BLE001 (a payload type pydantic cannot describe: say "anything")
        schema = {}
    options = job_type.options
    return JobTypeInfo(
        name=job_type.name,
        queue=options.queue,
        priority=options.priority,
        max_attempts=options.max_attempts,
        timeout=options.timeout,
        payload_schema=schema,
    )
