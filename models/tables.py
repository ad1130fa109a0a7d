"""Every table, imported once so the metadata is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from models.agency import Agency, ApiToken
from models.audit import AuditRecord
from models.call import Assignment, Call
from models.event import Event, EventCounter
from models.idempotency import IdempotentRequest
from models.responder import Responder
from models.rules import ProgrammeVersion, Unserved

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "ApiToken",
    "Assignment",
    "AuditRecord",
    "Call",
    "Event",
    "EventCounter",
    "IdempotentRequest",
    "ProgrammeVersion",
    "Responder",
    "Unserved",
    "metadata",
]
