"""Which category an incident type is: the agency's own mapping, then CoRespond's.

Names are compared by their letters and digits alone, whatever their case: "Mental
Health Crisis", "mental_health_crisis" and "MentalHealthCrisis" are one name. The order
of lookups (docs/eido.md says it too):
1. the incident's `incidentTypeInternalCode` in the agency's `internal_codes`;
2. its `incidentTypeCommonRegistryText` in the agency's `registry_texts`;
3. the registry text, then the internal code, in CoRespond's table (`DEFAULT_TYPES`);
4. the agency's `default` (CoRespond's: mental_health_crisis), or a 422 if it is null.
"""

import re
import uuid

from models.agency import Principal
from models.eido import IncidentTypeMapping, IncidentTypeMappingRow
from models.vocabulary import Category, Role
from service.store.transaction import Tx
from service.trust.access import require_role

MAPPING_EDITORS = frozenset({Role.admin})

DEFAULT_TYPES: dict[str, Category] = {
    **dict.fromkeys(
        (
            "SuicidalIdeation",
            "Suicidal",
            "SuicidalPerson",
            "Suicide",
            "SuicideThreat",
            "SuicideAttempt",
        ),
        Category.suicidal_ideation,
    ),
    **dict.fromkeys(
        (
            "MentalHealthCrisis",
            "MentalHealth",
            "BehavioralHealth",
            "BehaviouralHealth",
            "Psychiatric",
            "PsychiatricEmergency",
            "EmotionallyDisturbedPerson",
            "EDP",
            "AbnormalBehavior",
            "Crisis",
        ),
        Category.mental_health_crisis,
    ),
    **dict.fromkeys(
        ("SubstanceUse", "Intoxicated", "IntoxicatedPerson", "Drunk", "Drugs"),
        Category.substance_use,
    ),
    **dict.fromkeys(("Overdose", "Poisoning", "OverdosePoisoning"), Category.overdose),
    **dict.fromkeys(
        ("WelfareCheck", "CheckWelfare", "WellBeingCheck", "Welfare"), Category.welfare_check
    ),
    **dict.fromkeys(("Disturbance", "Disorderly", "DisturbingThePeace"), Category.disturbance),
}


def plain(name: str) -> str:
    """A name by its letters and digits, lower case: how mapped names are compared."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_DEFAULTS = {plain(name): category for name, category in DEFAULT_TYPES.items()}


def category_of(
    mapping: IncidentTypeMapping, *, registry_text: str | None, internal_code: str | None
) -> Category | None:
    """The category of an incident of this type, by the lookups above; None if nothing
    maps it and the agency's default is null."""
    codes = {plain(k): v for k, v in mapping.internal_codes.items()}
    texts = {plain(k): v for k, v in mapping.registry_texts.items()}
    code = plain(internal_code) if internal_code else None
    text = plain(registry_text) if registry_text else None
    for table, key in ((codes, code), (texts, text), (_DEFAULTS, text), (_DEFAULTS, code)):
        if key and key in table:
            return table[key]
    return mapping.default


def mapping_of(tx: Tx, agency_id: uuid.UUID) -> IncidentTypeMapping:
    """The agency's mapping, or CoRespond's default (empty tables, mental_health_crisis)."""
    row = tx.session.get(IncidentTypeMappingRow, agency_id)
    if row is None:
        return IncidentTypeMapping()
    return IncidentTypeMapping(
        internal_codes={k: Category(v) for k, v in row.internal_codes.items()},
        registry_texts={k: Category(v) for k, v in row.registry_texts.items()},
        default=Category(row.default_category) if row.default_category else None,
    )


def read_mapping(tx: Tx, *, principal: Principal) -> IncidentTypeMapping:
    return mapping_of(tx, principal.agency_id)


def set_mapping(tx: Tx, *, principal: Principal, body: IncidentTypeMapping) -> IncidentTypeMapping:
    """Replace the agency's mapping with `body` (admins only)."""
    require_role(principal, MAPPING_EDITORS, "set the EIDO incident-type mapping")
    row = tx.session.get(IncidentTypeMappingRow, principal.agency_id)
    if row is None:
        row = IncidentTypeMappingRow(agency_id=principal.agency_id)
        tx.session.add(row)
    row.internal_codes = {k: v.value for k, v in body.internal_codes.items()}
    row.registry_texts = {k: v.value for k, v in body.registry_texts.items()}
    row.default_category = body.default.value if body.default else None
    row.updated_at = tx.now
    tx.session.flush()
    return mapping_of(tx, principal.agency_id)
