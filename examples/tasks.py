"""The tutorial's job module (docs/tutorial.md): run it with `conveyor worker --app tasks:app`."""

from pydantic import BaseModel

from conveyor import Conveyor, JobContext, Retry

app = Conveyor()  # CONVEYOR_URL, or sqlite:///conveyor.db in the working directory


class Welcome(BaseModel):
    email: str
    name: str


@app.job("emails.welcome", max_attempts=5, timeout=30)
async def send_welcome(payload: Welcome, ctx: JobContext) -> dict[str, str]:
    if payload.email.endswith("@flaky.example"):
        raise Retry(after=10)  # the mail server said "later"
    print(f"hello {payload.name} <{payload.email}>, attempt {ctx.attempt}")
    return {"sent_to": payload.email}
