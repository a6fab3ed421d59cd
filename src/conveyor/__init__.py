"""conveyor: durable background jobs for Python.

The public API is what ``__all__`` lists; everything else is internal.
"""

from conveyor.app import Conveyor
from conveyor.errors import (
    ConfigurationError,
    ConveyorError,
    InvalidTransitionError,
    JobNotFoundError,
    PayloadValidationError,
    ResultSerializationError,
    StoreError,
    StoreUnavailableError,
    UnknownJobTypeError,
)
from conveyor.jobs import JobType
from conveyor.models import ApiKey, Attempt, Event, Job, Page, Stats
from conveyor.retry import Fail, Retry, RetryPolicy
from conveyor.states import JobState
from conveyor.worker.context import JobContext
from conveyor.worker.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "ApiKey",
    "Attempt",
    "ConfigurationError",
    "Conveyor",
    "ConveyorError",
    "Event",
    "Fail",
    "InvalidTransitionError",
    "Job",
    "JobContext",
    "JobNotFoundError",
    "JobState",
    "JobType",
    "Page",
    "PayloadValidationError",
    "ResultSerializationError",
    "Retry",
    "RetryPolicy",
    "Stats",
    "StoreError",
    "StoreUnavailableError",
    "UnknownJobTypeError",
    "Worker",
    "__version__",
]
