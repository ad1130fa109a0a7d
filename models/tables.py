"""Every table, imported once so the metadata is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from models.agency import Agency, ApiToken
from models.audit import AuditRecord
from models.call import Assignment, Call
from models.checkin import Checkin
from models.contact import AgencySecret, ContactKey
from models.eido import IncidentTypeMappingRow
from models.emergency import Emergency
from models.event import Event, EventCounter
from models.idempotency import IdempotentRequest
from models.outcome import CallOutcome, FollowUp
from models.report import DutyPeriod
from models.resource import ProviderToken, Resource
from models.responder import Responder
from models.rules import ProgrammeVersion, Unserved
from models.webhook import WebhookDelivery, WebhookEndpoint

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "AgencySecret",
    "ApiToken",
    "Assignment",
    "AuditRecord",
    "Call",
    "CallOutcome",
    "Checkin",
    "ContactKey",
    "DutyPeriod",
    "Emergency",
    "Event",
    "EventCounter",
    "FollowUp",
    "IdempotentRequest",
    "IncidentTypeMappingRow",
    "ProgrammeVersion",
    "ProviderToken",
    "Resource",
    "Responder",
    "Unserved",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
