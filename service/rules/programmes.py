"""An agency's programme: stored a version a row, read for every decision, set whole."""

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from dispatch.programme import PreparedProgramme, prepare_programme
from models.agency import Agency
from models.programme import ProgrammeInvalid, validate_programme
from models.rules import ProgrammeVersion, RulesPublic, RulesVersion
from models.vocabulary import ResponderKind
from service.errors import Invalid, NotFound
from service.store.prepared import Prepared
from service.store.transaction import Tx


@dataclass(frozen=True, slots=True)
class InForce:
    """What a decision on one of the agency's calls reads: one query a call."""

    version: int
    programme: PreparedProgramme
    kinds: frozenset[str]
    offer_timeout_s: int


_IN_FORCE = Prepared(
    select(col(Agency.programme_version), col(Agency.offer_timeout_s)).where(
        col(Agency.id) == bindparam("agency_id")
    )
)


def _version(tx: Tx, agency_id: uuid.UUID, version: int) -> ProgrammeVersion | None:
    return tx.session.get(ProgrammeVersion, (agency_id, version))


# Prepared programmes by (agency, version): a version never changes once written, so a
# cached one is never stale; a new version is a new key, read on the next call.
_PREPARED: OrderedDict[tuple[uuid.UUID, int], tuple[PreparedProgramme, frozenset[str]]] = (
    OrderedDict()
)
_CACHED = 256


def in_force(tx: Tx, agency_id: uuid.UUID) -> InForce:
    """The programme in force for the agency's next decision, and its offer timeout."""
    found = tx.run(_IN_FORCE, {"agency_id": agency_id}).first()
    if found is None:
        raise NotFound(f"no agency {agency_id}")
    version, offer_timeout_s = found
    key = (agency_id, version)
    cached = _PREPARED.get(key)
    if cached is None:
        row = _version(tx, agency_id, version)
        assert row is not None, "an agency's version in force is always stored"
        programme = validate_programme(row.document)
        cached = (prepare_programme(programme), frozenset(ResponderKind) | set(programme.kinds))
        _PREPARED[key] = cached
        if len(_PREPARED) > _CACHED:
            _PREPARED.popitem(last=False)
    else:
        _PREPARED.move_to_end(key)
    return InForce(version, cached[0], cached[1], offer_timeout_s)


def prepared_from(document: dict[str, Any]) -> PreparedProgramme:
    """A document not stored (to try it on past calls), validated and prepared."""
    try:
        return prepare_programme(validate_programme(document))
    except ProgrammeInvalid as invalid:
        raise _refused(invalid) from None


def _refused(invalid: ProgrammeInvalid) -> Invalid:
    count = len(invalid.errors)
    first = invalid.errors[0] if invalid.errors else {"path": "", "message": "invalid"}
    more = f" (and {count - 1} more in `errors`)" if count > 1 else ""
    detail = (
        f"the programme was refused: {first['path']}: {first['message']}{more}; nothing changed"
    )
    return Invalid(detail, errors=[dict(e) for e in invalid.errors])


def current_rules(tx: Tx, agency_id: uuid.UUID) -> RulesPublic:
    version = tx.run(_IN_FORCE, {"agency_id": agency_id}).scalars()[0]
    row = _version(tx, agency_id, version)
    assert row is not None, "an agency's version in force is always stored"
    return _public(row)


def rules_version(tx: Tx, agency_id: uuid.UUID, version: int) -> RulesPublic:
    row = _version(tx, agency_id, version)
    if row is None:
        raise NotFound(f"no version {version} of this agency's programme")
    return _public(row)


def rules_history(tx: Tx, agency_id: uuid.UUID) -> list[RulesVersion]:
    rows = tx.session.execute(
        select(ProgrammeVersion)
        .where(col(ProgrammeVersion.agency_id) == agency_id)
        .order_by(col(ProgrammeVersion.version).desc())
    ).scalars()
    return [RulesVersion(version=r.version, set_by=r.set_by, set_at=r.set_at) for r in rows]


_ADVANCE = Prepared(
    update(Agency)
    .where(col(Agency.id) == bindparam("b_id"), col(Agency.programme_version) == bindparam("b_old"))
    .values(programme_version=bindparam("b_new"))
)


def set_rules(
    tx: Tx, *, agency_id: uuid.UUID, document: dict[str, Any], set_by: str
) -> tuple[int, RulesPublic]:
    """Validate the whole document and make it the agency's next version, in force for
    its next call on every server; an invalid one changes nothing (Invalid, with every
    error as `{path, value, message}`). Returns the version it replaced, and the new."""
    try:
        validate_programme(document)
    except ProgrammeInvalid as invalid:
        raise _refused(invalid) from None
    old = tx.run(_IN_FORCE, {"agency_id": agency_id}).scalars()[0]
    row = ProgrammeVersion(
        agency_id=agency_id, version=old + 1, document=document, set_by=set_by[:200], set_at=tx.now
    )
    tx.session.add(row)
    tx.session.flush()  # two setting at once: the second's primary key clashes and it retries
    if tx.run(_ADVANCE, {"b_id": agency_id, "b_old": old, "b_new": old + 1}).rowcount != 1:
        raise RuntimeError("the programme version moved during the change")
    tx.loaded_now(Agency, agency_id, programme_version=old + 1)
    return old, _public(row)


def _public(row: ProgrammeVersion) -> RulesPublic:
    return RulesPublic(
        version=row.version, set_by=row.set_by, set_at=row.set_at, document=row.document
    )


def kinds_of(tx: Tx, agency_id: uuid.UUID) -> frozenset[str]:
    """The kinds of responder the agency's programme knows: built-in and declared."""
    return in_force(tx, agency_id).kinds
