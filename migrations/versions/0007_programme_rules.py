"""Programme rules: each agency's programme, version by version, the plan a call got
from it (rule, team, fallbacks), each assignment's team, and the unserved ledger.

Every agency gets, as version 1, the programme that reproduces the fixed plan it had
(`models.programme.today_document`), and every call the rule of it that its flags and
category match, so old and new calls read alike.

Revision ID: 0007
Revises: 0006
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as it was at this revision: a later change to today_document() must not
# change what this migration wrote.
_TODAY = {
    "timezone": "UTC",
    "teams": {
        "co_response": {"seats": [{"kind": "officer", "cit": True}, {"kind": "clinician"}]},
        "clinician": {"seats": [{"kind": "clinician"}]},
    },
    "rules": [
        {
            "name": "weapon or violence",
            "send": "co_response",
            "when": {
                "risk_any": ["weapon", "violence"],
                "risk_none": ["medical"],
                "categories": [
                    "suicidal_ideation",
                    "mental_health_crisis",
                    "substance_use",
                    "welfare_check",
                    "disturbance",
                ],
            },
        },
        {
            "name": "weapon or violence, and a medical need or an overdose",
            "when": {"risk_any": ["weapon", "violence"]},
            "send": "co_response",
            "ems": True,
        },
        {
            "name": "medical need",
            "when": {"risk_any": ["medical"]},
            "send": "clinician",
            "ems": True,
        },
        {
            "name": "overdose",
            "when": {"categories": ["overdose"]},
            "send": "clinician",
            "ems": True,
        },
        {"name": "no safety flag", "send": "clinician"},
    ],
}
_PREFER = [
    {
        "categories": ["substance_use", "overdose"],
        "kinds": ["clinician"],
        "skills": ["substance_use"],
    },
    {"categories": ["suicidal_ideation"], "kinds": ["clinician"], "skills": ["suicide_risk"]},
]
for _rule in _TODAY["rules"]:
    _rule["prefer_skills"] = _PREFER  # type: ignore[index]

_RULE_OF_OLD_CALL = """
CASE
  WHEN (weapon OR violence) AND NOT medical AND category <> 'overdose' THEN 'weapon or violence'
  WHEN weapon OR violence THEN 'weapon or violence, and a medical need or an overdose'
  WHEN medical THEN 'medical need'
  WHEN category = 'overdose' THEN 'overdose'
  ELSE 'no safety flag'
END"""


def upgrade() -> None:
    op.create_table(
        "programme_version",
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "unserved",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("call_id", sa.Uuid(), sa.ForeignKey("call.id"), nullable=False),
        sa.Column("programme_version", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_unserved_call_rule", "unserved", ["call_id", "rule"], unique=True)
    op.create_index("ix_unserved_agency_received", "unserved", ["agency_id", "received_at"])
    # Plain ADD and DROP COLUMN: a batch copy of `agency` or `call` would trip the
    # foreign keys onto them.
    op.add_column(
        "agency",
        sa.Column("programme_version", sa.Integer(), server_default="1", nullable=False),
    )
    empty = sa.text("'[]'")
    for name, column in (
        ("age_group", sa.Column("age_group", sa.String(length=16), nullable=True)),
        (
            "programme_version",
            sa.Column("programme_version", sa.Integer(), server_default="1", nullable=False),
        ),
        (
            "plan_rule",
            sa.Column("plan_rule", sa.String(length=100), server_default="", nullable=False),
        ),
        (
            "plan_team",
            sa.Column("plan_team", sa.String(length=64), server_default="", nullable=False),
        ),
        (
            "plan_fallback",
            sa.Column("plan_fallback", sa.JSON(), server_default=empty, nullable=False),
        ),
        (
            "plan_fallback_at",
            sa.Column("plan_fallback_at", sa.DateTime(timezone=True), nullable=True),
        ),
        ("plan_taken", sa.Column("plan_taken", sa.JSON(), server_default=empty, nullable=False)),
    ):
        del name
        op.add_column("call", column)
    op.create_index("ix_call_fallback_at", "call", ["plan_fallback_at"])
    op.add_column(
        "assignment", sa.Column("team", sa.String(length=64), server_default="", nullable=False)
    )
    op.execute(f"UPDATE call SET plan_team = plan_mode, plan_rule = {_RULE_OF_OLD_CALL}")  # noqa: S608 (constant)
    op.execute(
        "UPDATE assignment SET team = "
        "(SELECT plan_mode FROM call WHERE call.id = assignment.call_id)"
    )
    op.drop_column("call", "plan_mode")
    # A reason now names fallbacks too: TEXT, by a new column (SQLite cannot retype one
    # without copying the table).
    op.add_column("call", sa.Column("plan_said", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE call SET plan_said = plan_reason")
    op.drop_column("call", "plan_reason")
    op.execute("ALTER TABLE call RENAME COLUMN plan_said TO plan_reason")
    _drop_default("call", "plan_reason")
    # Defaults for the model's sake only while the old rows were filled in.
    for name in ("plan_rule", "plan_team"):
        _drop_default("call", name)
    agencies = op.get_bind().execute(sa.text("SELECT id FROM agency")).scalars().all()
    versions = sa.table(
        "programme_version",
        sa.column("agency_id", sa.Uuid()),
        sa.column("version", sa.Integer()),
        sa.column("document", sa.JSON()),
        sa.column("set_by", sa.String()),
        sa.column("set_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    if agencies:
        op.bulk_insert(
            versions,
            [
                {
                    "agency_id": agency if isinstance(agency, uuid.UUID) else uuid.UUID(agency),
                    "version": 1,
                    "document": json.loads(json.dumps(_TODAY)),
                    "set_by": "migration 0007: the fixed plan before programmes",
                    "set_at": now,
                }
                for agency in agencies
            ],
        )


def _drop_default(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(table, column, server_default=None)
    # SQLite cannot drop a default without copying the table; its default is harmless.


def downgrade() -> None:
    op.add_column(
        "call", sa.Column("plan_mode", sa.String(length=16), server_default="", nullable=False)
    )
    op.execute("UPDATE call SET plan_mode = plan_team")
    op.drop_index("ix_call_fallback_at", "call")
    for column in (
        "plan_taken",
        "plan_fallback_at",
        "plan_fallback",
        "plan_team",
        "plan_rule",
        "programme_version",
        "age_group",
    ):
        op.drop_column("call", column)
    op.drop_column("assignment", "team")
    op.drop_column("agency", "programme_version")
    op.drop_table("unserved")
    op.drop_table("programme_version")
