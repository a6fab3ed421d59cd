"""Async endpoints: a POST route that answers 202 at once and runs a job in the background.

Run it as a demo (in-process, no server): ``python examples/async_reports.py``.
Serve it (API + async endpoint + worker): ``conveyor serve --app examples.async_reports:api``
(auth is on: create a key with ``conveyor keys create --tenant acme``).
"""

import asyncio
import os

import httpx
from fastapi import Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from conveyor import Conveyor, JobContext
from conveyor.web import WebSettings, async_endpoint, create_app

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///reports.db"))


class ReportRequest(BaseModel):
    customer: str = Field(min_length=1)
    months: int = Field(default=3, ge=1, le=24)


@app.job("reports.build", timeout=300)
async def build_report(payload: ReportRequest, ctx: JobContext) -> dict[str, object]:
    request = ctx.request  # the HTTP request that submitted the job, as captured
    assert request is not None
    return {
        "customer": payload.customer,
        "months": payload.months,
        "region": request.path_params["region"],
        "format": request.query_params.get("format", "pdf"),
        "requested_by": request.headers.get("x-user", "anonymous"),
        "authorization_seen_as": request.headers.get("authorization"),
    }


def no_reports_for_test_customers(payload: ReportRequest, request: Request) -> Response | None:
    """Runs before anything is queued: return a response to refuse, None to go on."""
    if payload.customer.startswith("test-"):
        return JSONResponse({"detail": "test customers get no reports"}, status_code=422)
    return None


api = create_app(app)  # the REST API under /v1 (jobs, job types, stats), /docs, /readyz
async_endpoint(
    api,
    "/api/{region}/reports",
    job=build_report,
    validate=no_reports_for_test_customers,
    settings=WebSettings(redact_headers=frozenset({"x-api-secret"})),
)


async def main() -> None:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        accepted = await client.post(
            "/api/emea/reports?format=csv",
            json={"customer": "acme", "months": 6},
            headers={"X-User": "ada", "Authorization": "Bearer not-stored"},
        )
        print(accepted.status_code, "Location:", accepted.headers["location"])
        refused = await client.post("/api/emea/reports", json={"customer": "test-1"})
        print(refused.status_code, refused.json())
        invalid = await client.post("/api/emea/reports", json={"months": 99})
        print(invalid.status_code, [e["pointer"] for e in invalid.json()["errors"]])
    await app.drain(timeout=30)  # a worker would do this in `conveyor serve`
    job = await app.get(accepted.json()["id"])
    print(job.state, job.result)
    await app.close()


if __name__ == "__main__":
    asyncio.run(main())
