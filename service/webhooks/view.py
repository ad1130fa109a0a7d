"""Whom a webhook stands for."""

import uuid

from models.agency import Principal
from models.vocabulary import Role
from service.trust.disclosure import disclosure_for


def dispatcher_view(agency_id: uuid.UUID) -> Principal:
    """Whom a webhook stands for: a dispatcher of the agency, so a delivery carries
    exactly what a dispatcher's console is sent, never more."""
    narrative, substance_use = disclosure_for(
        Role.dispatcher, None, officers_see_narrative=False, officers_see_substance_use=False
    )
    return Principal(
        token_id=uuid.UUID(int=0),
        agency_id=agency_id,
        agency_slug="",
        role=Role.dispatcher,
        sees_narrative=narrative,
        sees_substance_use=substance_use,
    )
