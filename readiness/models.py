"""SQLAlchemy 2 typed models of the partner store. The same code runs on SQLite and PostgreSQL.

Source-system ids (``partner_id``, ``event_id``, ``opportunity_id``) are primary keys so that imports are
idempotent by construction. ``ActivityEvent.day`` (days since 1970-01-01) duplicates ``occurred_at`` as an
integer because scoring aggregates millions of events by partner, kind and age.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}


class Pam(Base):
    __tablename__ = "pams"

    pam_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))


class Partner(Base):
    __tablename__ = "partners"

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(10))
    country: Mapped[str | None] = mapped_column(String(2))
    program_tier: Mapped[str | None] = mapped_column(String(50))
    joined_on: Mapped[date | None] = mapped_column(Date)
    pam_id: Mapped[str | None] = mapped_column(ForeignKey("pams.pam_id"), index=True)
    specializations: Mapped[list[str]] = mapped_column(default=list)
    employee_count: Mapped[int | None] = mapped_column(Integer)
    customer_overlap_accounts: Mapped[int | None] = mapped_column(Integer)
    competitive_conflict: Mapped[str | None] = mapped_column(Text)

    gtm_profile: Mapped[GTMProfile | None] = relationship(back_populates="partner", uselist=False)


class ActivityEvent(Base):
    """Append-only behavioural event."""

    __tablename__ = "activity_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    known_kind: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_activity_partner_kind_day", "partner_id", "kind", "day"),)


class Opportunity(Base):
    __tablename__ = "opportunities"

    opportunity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    account_name: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    stage: Mapped[str] = mapped_column(String(20))
    attribution: Mapped[str] = mapped_column(String(20))
    created_on: Mapped[date | None] = mapped_column(Date)
    close_date: Mapped[date | None] = mapped_column(Date)
    forecast_category: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_band: Mapped[str | None] = mapped_column(String(40))


class GTMProfile(Base):
    """The partner's own words about its go-to-market."""

    __tablename__ = "gtm_profiles"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"), primary_key=True)
    icp_statement: Mapped[str | None] = mapped_column(Text)
    use_cases: Mapped[list[str]] = mapped_column(default=list)
    positioning: Mapped[str | None] = mapped_column(Text)
    sales_motion: Mapped[str | None] = mapped_column(Text)
    updated_on: Mapped[date | None] = mapped_column(Date)

    partner: Mapped[Partner] = relationship(back_populates="gtm_profile")


class PartnerAttributeValue(Base):
    """A dated value of a partner attribute that changes over time (headcount, customer overlap, competitive
    conflict, GTM profile fields), from `partner_attributes.csv`. Scoring as of a date reads the newest value
    dated on or before it; `partners` / `gtm_profiles` hold only the current values."""

    __tablename__ = "partner_attribute_history"

    # "partner_id|attribute|valid_from": one value per attribute and day, so re-importing is idempotent.
    entry_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    attribute: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    value: Mapped[str | None] = mapped_column(Text)  # None: cleared on that day (e.g. a conflict resolved)

    # On SQLite the index also holds `value` (migration 0004): scoring a whole program reads every pair's value from
    # it. Not on PostgreSQL, where a long text value would exceed the btree row size.
    __table_args__ = (Index("ix_attribute_history_lookup", "attribute", "partner_id", "valid_from"),)


class ReadinessSignal(Base):
    """Append-only structured readiness signal. Status changes are new rows that point at the original."""

    __tablename__ = "readiness_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    dimension: Mapped[str] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # partner | pam | agent | import
    actor: Mapped[str] = mapped_column(String(100))
    thread_id: Mapped[str | None] = mapped_column(String(100))
    # recorded | claimed | confirmed | rejected | overridden
    status: Mapped[str] = mapped_column(String(20), default="recorded")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("readiness_signals.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ActivationPlan(Base):
    __tablename__ = "activation_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    milestones: Mapped[list[Milestone]] = relationship(back_populates="plan", order_by="Milestone.position")

    # At most one active plan per partner, whoever creates it and however concurrently (migration 0003).
    __table_args__ = (Index("uq_plan_one_active", "partner_id", unique=True, sqlite_where=text("status = 'active'"),
                            postgresql_where=text("status = 'active'")),)


class Milestone(Base):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("activation_plans.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)
    phase: Mapped[int] = mapped_column(Integer)  # 30 | 60 | 90
    title: Mapped[str] = mapped_column(String(200))
    gap: Mapped[str | None] = mapped_column(String(40))
    acceptance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|claimed|done|skipped|rejected
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    completed_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    last_progress_on: Mapped[date | None] = mapped_column(Date)

    plan: Mapped[ActivationPlan] = relationship(back_populates="milestones")

    __table_args__ = (UniqueConstraint("plan_id", "key", name="uq_milestone_plan_key"),)


class ScoreSnapshot(Base):
    """Score history for trends and momentum."""

    __tablename__ = "score_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(10))
    segment: Mapped[str] = mapped_column(String(20))
    dimensions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Denormalised for the call lists (migrations 0002, 0004): a PAM's callable partners by play and priority.
    pam_id: Mapped[str | None] = mapped_column(String(64))
    revenue_at_stake: Mapped[float | None] = mapped_column(Float)
    on_call_list: Mapped[bool | None] = mapped_column(Boolean)  # on the dormant call list
    play: Mapped[str | None] = mapped_column(String(30))  # primary play (dormant plays or grow_to_sourcing)
    priority: Mapped[float | None] = mapped_column(Float)  # call-list order: revenue at stake x evidence x urgency

    __table_args__ = (
        UniqueConstraint("partner_id", "as_of", name="uq_snapshot_partner_asof"),
        Index("ix_snapshot_play", "as_of", "pam_id", "play", "priority"),
    )


class ScoringRun(Base):
    """The program-level state a full rescore used for a date and scoring config: baselines (priors) and the fitted
    activation curve. An incremental rescore after an import reuses them, and measures how far the program's rates
    have moved since, to decide which partners' tiers could change (readiness.scoring.incremental)."""

    __tablename__ = "scoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(Date)
    config_hash: Mapped[str] = mapped_column(String(64))
    partners: Mapped[int] = mapped_column(Integer)
    priors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    curve: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("as_of", "config_hash", name="uq_scoring_run_date_config"),)


class AuditLog(Base):
    """Every write the product makes on behalf of someone: who, when, from which conversation."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    thread_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class QuarantinedRow(Base):
    """An input row an import refused, with where it came from and why."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (Index("ix_quarantined_rows_file", "file", "file_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_run: Mapped[str] = mapped_column(String(64), index=True)
    file: Mapped[str] = mapped_column(String(300))
    # SHA-256 of the file's bytes: a re-import of the same file replaces its rows (readiness.importers.quarantine).
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatConversation(Base):
    """Which thread an OpenAI-style client's conversation continues: the key is a hash of the owner and the
    transcript (user and assistant texts) the client will send back with its next message (migration 0008)."""

    __tablename__ = "chat_conversations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    thread_id: Mapped[str] = mapped_column(String(128))
    turns: Mapped[int] = mapped_column(Integer)  # user messages in the thread then: more now means it moved on
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatThread(Base):
    """One conversation thread in the listing (`GET /threads`): maintained by the checkpointer each time it writes the
    thread's checkpoint (agent.checkpointer), so listing a principal's threads is one indexed query instead of a scan
    of every checkpoint (migration 0010)."""

    __tablename__ = "chat_threads"
    __table_args__ = (
        Index("ix_chat_threads_owner_updated", "owner", "updated_at"),
        Index("ix_chat_threads_updated", "updated_at"),  # the retention sweep: threads idle past the window
    )

    thread_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    messages: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NudgeDelivery(Base):
    """One nudge sent (or being sent) to one recipient on one channel, within one reminder window.

    A nudge is (partner, code, due since); window `n` covers days [n*w, (n+1)*w) after it fell due. The partial
    unique index lets a failed attempt be retried but never two live deliveries in the same window, however many
    `nudges send` run at once (migration 0008)."""

    __tablename__ = "nudge_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(10))  # partner | pam: who the nudge asks to act
    due_since: Mapped[date] = mapped_column(Date)
    window_index: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="sending")  # sending | sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_nudge_delivery_window", "channel", "recipient", "partner_id", "code", "due_since", "window_index",
              unique=True, sqlite_where=text("status != 'failed'"), postgresql_where=text("status != 'failed'")),
    )


class NudgeUnsubscribe(Base):
    """A recipient who asked for no more nudges, on any channel."""

    __tablename__ = "nudge_unsubscribes"

    recipient: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # link | cli
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """A bearer key for the API. Only a hash of the secret is stored; the secret is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32))  # public part: list, revoke, logs
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the whole key, hex
    role: Mapped[str] = mapped_column(String(20))  # partner | pam | leader | admin
    principal_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("key_id", name="uq_api_keys_key_id"),)


class TurnThread(Base):
    """A conversation thread and the principal that started it; the primary key makes the claim atomic (0009)."""

    __tablename__ = "turn_threads"

    thread_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TurnIdempotency(Base):
    """An `Idempotency-Key` of a chat turn, per principal: `running` while the turn runs, then `done` with its result
    (a TurnResult as JSON) so a retry gets it back (migration 0009)."""

    __tablename__ = "turn_idempotency"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    thread_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataVersion(Base):
    """One row (id 1) whose `n` goes up in the same transaction as every commit that changed a row of the store
    (readiness.dataversion): the key under which the server caches what it reads, shared by every process."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    stamp: Mapped[str] = mapped_column(String(32))  # random, drawn anew with each bump (caches shared by stores)


# A store made with create_all (not the migrations) gets its counter row too.
event.listen(DataVersion.__table__, "after_create", DDL(
    "INSERT INTO data_version (id, n, stamp) VALUES (1, 0, lower(hex(randomblob(16))))").execute_if(dialect="sqlite"))
event.listen(DataVersion.__table__, "after_create", DDL(
    "INSERT INTO data_version (id, n, stamp) VALUES (1, 0, md5(random()::text || clock_timestamp()::text))"
).execute_if(dialect="postgresql"))
