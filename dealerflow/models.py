"""The database schema. Money is Numeric(14, 2) here and Decimal in Python, never float."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, PrimaryKeyConstraint,
    String, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Money = Numeric(14, 2)
BEIJING_TODAY = "(now() at time zone 'Asia/Shanghai')::date"
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


def _now():
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


ROLES = ("admin", "hq", "credit_manager", "account_manager", "region_manager", "finance", "dealer")


class Dealer(Base):
    __tablename__ = "dealers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    tier: Mapped[str] = mapped_column(String(32), default="normal")
    credit_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # `outstanding` and `overdue_days` are a cache for lists, refreshed by the monthly credit scoring
    # run: the credit decision reads receivables and overdue days live from the ledger
    # (dealerflow/credit/ledger_figures.py). `rating` and `credit_limit` are set by that run.
    outstanding: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    rating: Mapped[str] = mapped_column(String(1), default="C")
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    account_manager: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    channel: Mapped[str] = mapped_column(String(32), default="retail", server_default="retail")
    legal_name: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_birthday: Mapped[date | None] = mapped_column(Date)
    # Rebate anniversaries and `dealer.years` count from here, not from when the row was inserted.
    cooperation_since: Mapped[date] = mapped_column(Date, server_default=text(BEIJING_TODAY))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("level in (1, 2)", name="dealer_level"),
        CheckConstraint("status in ('active', 'suspended', 'ended')", name="dealer_status"),
        CheckConstraint("payment_terms_days >= 0", name="dealer_payment_terms"),
        CheckConstraint("credit_limit >= 0 and outstanding >= 0 and overdue_days >= 0", name="dealer_credit"),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    region: Mapped[str | None] = mapped_column(String(64))  # a region manager's region
    display_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    # A deactivated user cannot sign in and its tokens stop working; the row stays for the audit trail.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = _now()
    dealer: Mapped[Dealer | None] = relationship(lazy="joined")
    __table_args__ = (
        CheckConstraint("role in ('admin', 'hq', 'credit_manager', 'account_manager', 'finance', 'dealer', "
                        "'region_manager')", name="user_role"),
        CheckConstraint("(role = 'dealer') = (dealer_id is not null)", name="user_dealer_scope"),
        CheckConstraint("(role = 'region_manager') = (region is not null)", name="user_region_scope"),
    )


class LoginFailure(Base):
    """A failed (or not yet checked) password login, kept for the throttling window: counted per account
    name as typed and per client address; a successful login deletes its account's rows."""
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("login_failures_by_username", "username", "at"),
        Index("login_failures_by_address", "address", "at"),
        Index("login_failures_at", "at"),
    )


class RevokedToken(Base):
    """A bearer token ended by logout before its expiry (its `jti`), kept until it would have expired."""
    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="other")
    unit_price: Mapped[Decimal] = mapped_column(Money)
    # The retail guide price (指导价); scans reporting a price far under it raise price alerts.
    guide_price: Mapped[Decimal | None] = mapped_column(Money)
    unit: Mapped[str] = mapped_column(String(16), default="件", server_default="件")
    pack_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("unit_price >= 0", name="product_price"),
                      CheckConstraint("pack_size >= 1", name="product_pack_size"))


# approved → shipped → delivered (invoiced to the dealer's account) → completed (paid in full).
ORDER_STATUSES = ("submitted", "approved", "pending_review", "rejected", "cancelled", "shipped", "delivered",
                  "completed")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    status: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of the request the key was used for
    workflow_id: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Imported from the ERP's history (dealerflow/orders/history.py): its order number there, once.
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    lines: Mapped[list["OrderLine"]] = relationship(order_by="OrderLine.line_no", lazy="selectin")
    __table_args__ = (
        UniqueConstraint("dealer_id", "idempotency_key", name="order_idempotency"),
        Index("order_dealer_status", "dealer_id", "status"),
        Index("order_dealer_created", "dealer_id", "created_at"),
        Index("order_delivered", "delivered_at", postgresql_where="delivered_at is not null"),
        # A set of dealers' deliveries in a period: an account manager's reports.
        Index("order_dealer_delivered", "dealer_id", "delivered_at", postgresql_where="delivered_at is not null"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    __table_args__ = (CheckConstraint("quantity > 0", name="line_quantity"),)


class OrderEvent(Base):
    """Status history of an order: who moved it where, when, and why."""
    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = _now()
    status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class Decision(Base):
    """Every automated decision with its explanation: rule file, version, rules that fired, facts."""
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    ruleset: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[dict] = mapped_column(Json)
    explanation: Mapped[dict] = mapped_column(Json)
    decided_at: Mapped[datetime] = _now()
    # What replay breaks its figures down by, as it was at decision time (region, tier, amount), and
    # the outcomes of shadow versions evaluated beside the active one (never acted on).
    context: Mapped[dict | None] = mapped_column(Json)
    shadow: Mapped[dict | None] = mapped_column(Json)
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "ruleset", name="decision_once"),
                      Index("decision_ruleset_time", "ruleset", "decided_at"))


class RuleVersion(Base):
    """Deployed rule files. The highest `active` version already in effect (effective_from passed,
    effective_until not) is the active one; a `shadow` version is evaluated beside it, never acted on."""
    __tablename__ = "rule_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = _now()
    effective_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    effective_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mode: Mapped[str] = mapped_column(String(16), server_default="active", default="active")
    shadow_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    __table_args__ = (UniqueConstraint("ruleset", "version", name="rule_version_unique"),
                      CheckConstraint("mode in ('active', 'shadow')", name="rule_version_mode"))


TASK_STATUSES = ("open", "completed", "cancelled")


class HumanTask(Base):
    """A piece of work for a person, opened and awaited by a workflow."""
    __tablename__ = "human_tasks"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    workflow_id: Mapped[str] = mapped_column(String(128))
    assignee_role: Mapped[str] = mapped_column(String(32))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_to_role: Mapped[str | None] = mapped_column(String(32))
    outcomes: Mapped[list] = mapped_column(Json)
    payload: Mapped[dict] = mapped_column(Json)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("task_inbox", "status", "assignee_role"),
        Index("task_subject", "subject_type", "subject_id"),
    )


class TaskEvent(Base):
    """Audit of a human task: who did what, when."""
    __tablename__ = "task_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(Json, default=dict)


class Notification(Base):
    """In-app inbox entry for a role or a user (reminders, escalations)."""
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recipient_role: Mapped[str | None] = mapped_column(String(32))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _now()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Outbox for external channels (webhook): set once the notification has been sent there.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("notification_dealer", "recipient_dealer_id", "id"),
        Index("notification_unsent", "id", postgresql_where="sent_at is null"),
    )


FAILURE_STATES = ("failing", "failed", "resolved")


class ProcessFailure(Base):
    """A step of a process that keeps failing (an activity retried again and again) or failed for good
    (a workflow caught the failure and recorded what it means). One row per workflow and step: HQ's
    list of processes that need a person, with the error."""
    __tablename__ = "process_failures"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    workflow_type: Mapped[str] = mapped_column(String(100))
    activity: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(200))  # what it concerns: "statement …", "policy …"
    link: Mapped[str | None] = mapped_column(String(300))
    first_at: Mapped[datetime] = _now()
    last_at: Mapped[datetime] = _now()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("workflow_id", "activity", name="failure_once"),
        Index("failure_open", "last_at", postgresql_where="state <> 'resolved'"),
        CheckConstraint("state in ('failing', 'failed', 'resolved')", name="failure_state"),
    )


# --- policies ----------------------------------------------------------------------------------

POLICY_STATUSES = ("pilot", "awaiting_decision", "rolling_out", "active", "closed", "withdrawn", "cancelled")


class Policy(Base):
    """A published policy: the version being rolled out and where its rollout stands. The content
    lives in the deployed rule file (`rule_versions`, ruleset = policy id)."""
    __tablename__ = "policies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[str] = mapped_column(String(128))
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pilot_decision: Mapped[str | None] = mapped_column(String(32))
    final_figures: Mapped[dict | None] = mapped_column(Json)


class PolicyTarget(Base):
    """One targeted dealer of a policy: delivery, reading, acknowledgment and chasing. Set-based
    updates on this table are how a rollout reaches thousands of dealers in a few statements."""
    __tablename__ = "policy_targets"
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    pilot: Mapped[bool] = mapped_column(default=False)
    targeted_version: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict] = mapped_column(Json)  # the dealer facts the targeting rule saw
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_version: Mapped[int | None] = mapped_column(Integer)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_version: Mapped[int | None] = mapped_column(Integer)
    acknowledged_late: Mapped[bool | None] = mapped_column()
    chase_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # delivery or amendment
    ack_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("policy_target_dealer", "dealer_id", "delivered_at"),)


ASSIGNMENT_STATUSES = ("assigned", "submitted", "returned", "accepted", "cancelled")


class PolicyAssignment(Base):
    """A policy task assigned to one dealer: due date, submissions, review, points."""
    __tablename__ = "policy_assignments"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"))
    task_key: Mapped[str] = mapped_column(String(64))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    review_task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    review_comment: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("policy_id", "task_key", "dealer_id", name="assignment_once"),
        Index("assignment_dealer", "dealer_id", "status"),
        CheckConstraint("status in ('assigned', 'submitted', 'returned', 'accepted', 'cancelled')",
                        name="assignment_status"),
    )


class Evidence(Base):
    """One file or set of figures submitted for an assignment; files are stored by their SHA-256."""
    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policy_assignments.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # photo | video | document | figures
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    figures: Mapped[dict | None] = mapped_column(Json)
    note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = _now()


class PointsEntry(Base):
    """The dealer's points ledger. One entry per source (e.g. an accepted assignment): the unique
    key makes awarding points idempotent at the database, whatever retries happen above it."""
    __tablename__ = "points_ledger"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (UniqueConstraint("source_type", "source_id", name="points_once"),)


class PolicyQuestion(Base):
    """A dealer's question on a policy; HQ answers, and may publish the answer to the policy's FAQ."""
    __tablename__ = "policy_questions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    asked_by: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = _now()
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_faq: Mapped[bool] = mapped_column(default=False)


# --- fulfilment, payments and the dealer's account ------------------------------------------------

class OrderReturn(Base):
    """Goods a dealer sent back. `reference` is the return's number in the ERP: importing the same
    row twice is refused, never counted twice."""
    __tablename__ = "order_returns"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    returned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("return_dealer_time", "dealer_id", "returned_at"),
        CheckConstraint("quantity > 0 and amount >= 0", name="return_positive"),
    )


class Payment(Base):
    """Money received from a dealer, optionally against one order. `reference` is the bank or ERP
    reference, unique so a re-sent payment is not booked twice."""
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(32), default="transfer")
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("payment_dealer_time", "dealer_id", "paid_at"),
        CheckConstraint("amount > 0", name="payment_positive"),
    )


ENTRY_KINDS = ("delivery", "return", "payment", "rebate", "points")


class AccountEntry(Base):
    """The dealer's account with the manufacturer: what the dealer owes. A delivery adds its
    amount; returns, payments, rebates and converted points take theirs off (negative amounts).
    Every entry names its source, and (source_type, source_id) is unique: booking the same
    delivery, payment or rebate twice is impossible at the database, whatever retries happen."""
    __tablename__ = "account_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    value_date: Mapped[date] = mapped_column(Date)  # the business day (China time) it belongs to
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", name="account_entry_once"),
        Index("account_dealer_date", "dealer_id", "value_date"),
        CheckConstraint("kind in ('delivery', 'return', 'payment', 'rebate', 'points')", name="entry_kind"),
    )


# --- rebate settlement ------------------------------------------------------------------------------

RUN_STAGES = ("freezing", "awaiting_confirmation", "awaiting_approval", "posting", "closed", "rejected", "failed")


class SettlementRun(Base):
    """One settlement of a rebate program for a period: final, or an interim run inside it. The id
    is the run key (program:period[:interim]), so starting the same run twice finds the first."""
    __tablename__ = "settlement_runs"
    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    program: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))  # 2026-Q3, 2026-07, 2026
    upto: Mapped[str] = mapped_column(String(16))  # the last month covered; = period end for a final run
    final: Mapped[bool] = mapped_column()
    ruleset_version: Mapped[int] = mapped_column(Integer)
    # The ladder measures [measure_from, span_to]; the statements cover [span_from, span_to] (dates).
    measure_from: Mapped[date] = mapped_column(Date)
    span_from: Mapped[date] = mapped_column(Date)
    span_to: Mapped[date] = mapped_column(Date)
    workflow_id: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32))
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = _now()
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[list] = mapped_column(Json, default=list)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totals: Mapped[dict] = mapped_column(Json, default=dict)
    __table_args__ = (Index("run_program_period", "program", "period"),)


STATEMENT_STATUSES = ("issued", "confirmed", "disputed", "superseded")


class Statement(Base):
    """对账单: one dealer's statement in a settlement run, with the rebate it accrues and why.
    A dispute resolved by revision supersedes it with revision + 1; exactly one revision of a
    (run, dealer) is current. Balance: opening + deliveries - returns - payments - rebates - points
    = closing (returns, payments, rebates and points are shown as positive amounts)."""
    __tablename__ = "statements"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("settlement_runs.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    opening: Mapped[Decimal] = mapped_column(Money)
    deliveries: Mapped[Decimal] = mapped_column(Money)
    returns: Mapped[Decimal] = mapped_column(Money)
    payments: Mapped[Decimal] = mapped_column(Money)
    rebates_posted: Mapped[Decimal] = mapped_column(Money)  # other rebates already credited in the span
    rebate: Mapped[Decimal] = mapped_column(Money)  # this run's rebate (negative: a clawback)
    points: Mapped[int] = mapped_column(Integer, default=0)  # points converted by this run
    points_amount: Mapped[Decimal] = mapped_column(Money)
    closing: Mapped[Decimal] = mapped_column(Money)
    explanation: Mapped[dict] = mapped_column(Json)  # rule file, version, bracket, extras, figures
    issued_at: Mapped[datetime] = _now()
    confirm_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))  # a username, or "auto" at the deadline
    disputed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    dispute_task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("run_id", "dealer_id", "revision", name="statement_revision"),
        Index("statement_current", "run_id", "dealer_id", unique=True, postgresql_where="current"),
        Index("statement_dealer", "dealer_id", "issued_at"),
        CheckConstraint("status in ('issued', 'confirmed', 'disputed', 'superseded')", name="statement_status"),
        CheckConstraint("opening + deliveries - returns - payments - rebates_posted - rebate - points_amount"
                        " = closing", name="statement_balances"),
    )


# --- anti-diversion ----------------------------------------------------------------------------------

# Codes and scan ids are opaque identifiers: compared byte by byte, not by the language's collation,
# which makes every index lookup and insertion among millions of them cheaper.
CodeText = String(64, collation="C")

class CodeBatch(Base):
    """The product codes (QR/RFID) of one production batch, registered together."""
    __tablename__ = "code_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_no: Mapped[str] = mapped_column(String(32))
    codes: Mapped[int] = mapped_column(Integer)
    registered_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (UniqueConstraint("batch_no", name="code_batch_once"),)


class ProductCode(Base):
    """One unit's unique code, bound at shipment to the shipping dealer and its authorised region.
    Millions of rows: no foreign keys (their per-row checks would double the cost of registering a
    batch; the batch, product and dealer are checked by the code that writes them), and no index
    beyond the two that lookups and serial ranges need."""
    __tablename__ = "product_codes"
    code: Mapped[str] = mapped_column(CodeText)
    batch_id: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)  # 1-based position in the batch
    product_id: Mapped[int] = mapped_column(Integer)  # the batch's, copied for the scan join
    dealer_id: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(64))  # the authorised region: the dealer's at binding
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    bound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # A scan's lookup reads what detection needs from the index alone, not from the table.
        PrimaryKeyConstraint("code", name="product_codes_pkey",
                             postgresql_include=["dealer_id", "product_id", "region"]),
        UniqueConstraint("batch_id", "serial", name="code_serial"),
        Index("code_order", "order_id", postgresql_where="order_id is not null"),
    )


SCANNER_KINDS = ("store", "consumer", "inspector", "sale")  # sale: a terminal sold the unit


class Scan(Base):
    """A scan of a product code by a store, a consumer or an inspector. `scan_id` is the sender's:
    a batch sent again is recorded once."""
    __tablename__ = "scans"
    scan_id: Mapped[str] = mapped_column(CodeText, primary_key=True)
    code: Mapped[str] = mapped_column(CodeText)
    region: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal | None] = mapped_column(Money)  # the reported retail price
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("scan_code", "code"),
        CheckConstraint("kind in ('store', 'consumer', 'inspector', 'sale')", name="scan_kind"),
    )


CASE_STATUSES = ("open", "confirmed", "dismissed")
ALERT_TRIGGERS = ("out_of_region", "price", "regional_excess", "stock_up", "unknown_code", "signed_outside_region")


class DiversionCase(Base):
    """An investigation: every alert about one dealer, product and region joins its open case (the
    partial unique index allows one; unknown codes have no dealer or product, so NULLs are equal).
    A CaseWorkflow (id from the case id) asks the rule file's investigator to confirm or dismiss."""
    __tablename__ = "diversion_cases"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    region: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    # The alerts are counted from diversion_alerts, never kept here: concurrent batches filing alerts
    # into one case would otherwise queue on its row.
    first_alert_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # its workflow ran
    severity: Mapped[str | None] = mapped_column(String(16))
    assessment: Mapped[dict | None] = mapped_column(Json)  # rule file, version, per trigger: facts, reason
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    points: Mapped[int | None] = mapped_column(Integer)  # credit points the confirmed case cost
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("case_open_once", "dealer_id", "product_id", "region", unique=True, postgresql_where="status = 'open'",
              postgresql_nulls_not_distinct=True),
        Index("case_region_status", "region", "status", "id"),
        Index("case_dealer", "dealer_id", "status"),
        Index("case_unstarted", "opened_at", postgresql_where="status = 'open' and started_at is null"),
        CheckConstraint("status in ('open', 'confirmed', 'dismissed')", name="case_status"),
    )


class DiversionAlert(Base):
    """One trigger that held: a scan (out of region, under price, unknown code) or a dealer's
    shipment pattern (regional excess, stock-up), with the figures the rules will assess."""
    __tablename__ = "diversion_alerts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("diversion_cases.id"))
    trigger: Mapped[str] = mapped_column(String(32))
    scan_id: Mapped[str | None] = mapped_column(CodeText)
    code: Mapped[str | None] = mapped_column(CodeText)
    dealer_id: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal | None] = mapped_column(Money)
    guide_price: Mapped[Decimal | None] = mapped_column(Money)
    units: Mapped[int | None] = mapped_column(Integer)  # shipped in the window
    baseline: Mapped[Decimal | None] = mapped_column(Numeric)  # the average the units are compared with
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the scan's time, or the sweep's
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("alert_case", "case_id", "id"),
        Index("alert_pattern", "dealer_id", "product_id", "trigger", "at",
              postgresql_where="trigger in ('regional_excess', 'stock_up')"),
        CheckConstraint("trigger in ('out_of_region', 'price', 'regional_excess', 'stock_up', 'unknown_code', "
                        "'signed_outside_region')", name="alert_trigger"),
    )


class CreditPointsEntry(Base):
    """A dealer's anti-diversion credit points, as a ledger: a confirmed case takes points, a clean
    quarter gives some back. The unique source makes each exactly once under any retry."""
    __tablename__ = "credit_points"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", name="credit_points_once"),
        Index("credit_points_dealer", "dealer_id"),
    )


# --- tiering -------------------------------------------------------------------------------------

TIER_SCORE_STATUSES = ("unchanged", "proposed", "applied", "awaiting_approval", "rejected")


class TieringRun(Base):
    """One re-tiering of every dealer, keyed by the month it tiers for (the schedule's on the 1st, or
    HQ's on demand): asking for a month twice finds the first. Figures cover the 12 months before
    `as_of`, the month's first instant (China time)."""
    __tablename__ = "tiering_runs"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11
    ruleset_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(32))  # scoring, applying, awaiting_approval, closed
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = _now()
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval: Mapped[dict | None] = mapped_column(Json)  # the downgrade approval: task, outcome, actor, comment
    totals: Mapped[dict] = mapped_column(Json, default=dict)


class TierScore(Base):
    """One dealer's scorecard in one run — score per dimension, total, tier before and after, tags and
    why (rule file, version, rules that fired) — and where its change stands. Every dealer gets a
    row each run (status `unchanged` when nothing moves): the dealer's history."""
    __tablename__ = "tier_scores"
    run_month: Mapped[str] = mapped_column(ForeignKey("tiering_runs.month"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    dimensions: Mapped[dict] = mapped_column(Json)  # dimension key → score text
    old_tier: Mapped[str] = mapped_column(String(32))
    new_tier: Mapped[str] = mapped_column(String(32))
    override: Mapped[str | None] = mapped_column(String(64))
    old_tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    new_tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    rule_tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)))  # the tags the rules set (they own the rest)
    status: Mapped[str] = mapped_column(String(20))
    explanation: Mapped[dict] = mapped_column(Json)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("tier_score_dealer", "dealer_id", "run_month"),
        Index("tier_score_status", "run_month", "status"),
        CheckConstraint("status in ('unchanged', 'proposed', 'applied', 'awaiting_approval', 'rejected')",
                        name="tier_score_status"),
    )


class SilentDealer(Base):
    """沉默经销商: a dealer flagged by a run for placing no order in the rule file's period, and the
    activation asked of its account manager. The flag clears (`activated_at`) with its next order;
    one open flag per dealer."""
    __tablename__ = "silent_dealers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    run_month: Mapped[str] = mapped_column(ForeignKey("tiering_runs.month"))
    silent_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # its last order, or joining
    flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    account_manager: Mapped[str | None] = mapped_column(String(64))
    actions: Mapped[list] = mapped_column(Json)  # suggested for its tags when flagged
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activation_order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    __table_args__ = (
        Index("silent_open", "dealer_id", unique=True, postgresql_where="activated_at is null"),
        Index("silent_flagged", "flagged_at"),
    )


# --- reports ----------------------------------------------------------------------------------------

class SalesDaily(Base):
    """Net sales per business day (China time), region and product: delivered lines by delivery time
    and returns by return time, kept in step by triggers on order_lines, orders (delivered_at) and
    order_returns (migration 0006_sales_rollup), so every writer — API, CSV import, a script — keeps it
    right in its own transaction. The region is the dealer's when the goods were delivered or
    returned. HQ's reports read it instead of millions of order lines."""
    __tablename__ = "sales_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivered_qty: Mapped[int] = mapped_column(BigInteger)
    delivered_amount: Mapped[Decimal] = mapped_column(Numeric)
    returned_qty: Mapped[int] = mapped_column(BigInteger)
    returned_amount: Mapped[Decimal] = mapped_column(Numeric)


# --- master data ------------------------------------------------------------------------------------

class MasterAudit(Base):
    """One changed field of a master record (dealer, product, user, region), written in the
    transaction of the change, whichever way it came (API, console, import, approval)."""
    __tablename__ = "master_audit"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))
    record_key: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16), default="api")  # api, console, import, approval
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _now()
    __table_args__ = (Index("master_audit_record", "record_type", "record_key", "at"),)


class Region(Base):
    """A sales region: dealers name it by `code` (dealers.region), its account managers serve it."""
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _now()


class RegionManager(Base):
    """An account manager assigned to a region (many to many)."""
    __tablename__ = "region_account_managers"
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class CreditLimitChange(Base):
    """A manual raise of a dealer's credit limit above the credit rule file's threshold, waiting for a
    second person (a credit manager or finance, not the requester); applied only when approved."""
    __tablename__ = "credit_limit_changes"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    old_limit: Mapped[Decimal] = mapped_column(Money)
    new_limit: Mapped[Decimal] = mapped_column(Money)
    threshold: Mapped[Decimal] = mapped_column(Money)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = _now()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str] = mapped_column(String(128))
    __table_args__ = (
        CheckConstraint("status in ('pending', 'approved', 'rejected')", name="limit_change_status"),
        # One pending raise per dealer: a second is refused until the first is decided.
        Index("limit_change_pending", "dealer_id", unique=True, postgresql_where="status = 'pending'"),
    )


# --- order history imports ---

HISTORY_IMPORT_STATES = ("running", "imported", "checked", "refused")


class HistoryImport(Base):
    """One import of the ERP's order history (a file or a JSON batch): who sent what, whether it was a
    dry run, and what it found — new and already-there orders, lines, returns, payments, or the
    problems that refused it. The console lists them as the imports' progress and results."""
    __tablename__ = "history_imports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="running")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict] = mapped_column(Json, default=dict)
    problems: Mapped[list] = mapped_column(Json, default=list)  # the first ones, when refused
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("history_import_started", "started_at"),
        CheckConstraint("state in ('running', 'imported', 'checked', 'refused')", name="history_import_state"),
    )
# --- stock -------------------------------------------------------------------------------------------

class Warehouse(Base):
    """An HQ warehouse; its stock per SKU comes from the ERP (import or API)."""
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class Stock(Base):
    """Units of a product in a warehouse: on hand, and how many of them orders hold. A SKU with no
    stock row anywhere is not stock-managed (made to order): its orders reserve nothing."""
    __tablename__ = "stock"
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("on_hand >= 0", name="stock_on_hand"),
                      CheckConstraint("reserved >= 0 and reserved <= on_hand", name="stock_reserved"),
                      Index("stock_product", "product_id"))


ALLOCATION_STATUSES = ("reserved", "backordered", "released", "consumed")


class StockAllocation(Base):
    """Units of an order line held in a warehouse (reserved), or waiting for stock (backordered, no
    warehouse yet, filled by `priority` then age); released when the order is cancelled or rejected,
    consumed when it ships."""
    __tablename__ = "stock_allocations"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("quantity > 0", name="allocation_quantity"),
        CheckConstraint("status in ('reserved', 'backordered', 'released', 'consumed')", name="allocation_status"),
        CheckConstraint("status = 'released' or (warehouse_id is null) = (status = 'backordered')", name="allocation_warehouse"),
        Index("allocation_order", "order_id"),
        Index("allocation_backorders", "product_id", "priority", "created_at", postgresql_where="status = 'backordered'"),
    )


class StockMovement(Base):
    """Every change of on-hand stock: set from the ERP, adjusted, shipped, returned."""
    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    delta: Mapped[int] = mapped_column(Integer)
    on_hand: Mapped[int] = mapped_column(Integer)  # after the movement
    kind: Mapped[str] = mapped_column(String(16))  # set | adjust | shipment | return
    reference: Mapped[str] = mapped_column(String(128), default="")
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _now()
    __table_args__ = (Index("stock_movement_stock", "warehouse_id", "product_id", "at"),)


class PendingOrderStart(Base):
    """The outbox of order workflows: written with the order, deleted once its workflow started. A row
    left behind (the process died between the commit and the start) is started by the order sweep."""
    __tablename__ = "order_starts"
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    queued_at: Mapped[datetime] = _now()
# --- logistics --------------------------------------------------------------------------------------

# A parcel's way as its carrier reports it, normalised (dealerflow/logistics/normalise.py).
PARCEL_STATES = ("created", "in_transit", "at_destination_city", "out_for_delivery", "signed", "exception",
                 "returned")
RECEIPTS = ("open", "confirmed", "auto_confirmed", "reported")
PROBLEM_KINDS = ("damage", "shortage")


class Parcel(Base):
    """One waybill of a shipment: an order may leave in several parcels, each tracked through a
    provider (an aggregator such as 快递100 or 快递鸟) and received by the dealer on its own. A
    ShipmentWorkflow per parcel waits for its signing, then for the dealer's receipt (or confirms
    it itself after the configured days)."""
    __tablename__ = "parcels"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    provider: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(32))  # the carrier's code at the aggregator (SF, YTO, ZTO...)
    waybill: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), default="created", server_default="created")
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_place: Mapped[str | None] = mapped_column(String(200))
    signed_province: Mapped[str | None] = mapped_column(String(32))
    signed_city: Mapped[str | None] = mapped_column(String(32))
    receipt: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_by: Mapped[str | None] = mapped_column(String(64))
    auto_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The receipt books the order to the dealer's account (the company's setting when it was shipped).
    receipt_delivers: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    workflow_id: Mapped[str] = mapped_column(String(128))
    workflow_told: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")  # of its signing
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("carrier", "waybill", name="parcel_waybill"),
        Index("parcel_order", "order_id"),
        Index("parcel_dealer", "dealer_id", "created_at"),
        Index("parcel_untold", "signed_at", postgresql_where="state = 'signed' and not workflow_told"),
        CheckConstraint("state in ('created', 'in_transit', 'at_destination_city', 'out_for_delivery', 'signed', "
                        "'exception', 'returned')", name="parcel_state"),
        CheckConstraint("receipt in ('open', 'confirmed', 'auto_confirmed', 'reported')", name="parcel_receipt"),
    )


class TrackingPayload(Base):
    """A push or a poll answer exactly as it came (append-only: a trigger refuses updates and
    deletes), once its signature held. Unsigned or badly signed pushes are never stored."""
    __tablename__ = "tracking_payloads"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8))  # push | poll
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("source in ('push', 'poll')", name="payload_source"),
                      Index("payload_received", "received_at"))


class TrackingEvent(Base):
    """One event of a parcel's track, normalised; the same event pushed again is stored once."""
    __tablename__ = "tracking_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parcels.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(16))  # the provider's code, as sent
    text: Mapped[str] = mapped_column(String(500))
    place: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(32))  # md5 of text and place: the event's identity with its time
    payload_id: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("parcel_id", "at", "state", "digest", name="tracking_event_once"),)


class UnmatchedWaybill(Base):
    """Tracking for a waybill no parcel has: kept (the payloads stay), counted and listed for HQ; a
    parcel recorded later with that waybill takes its events."""
    __tablename__ = "unmatched_waybills"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(32))
    waybill: Mapped[str] = mapped_column(String(64))
    pushes: Mapped[int] = mapped_column(Integer, default=1)
    events: Mapped[int] = mapped_column(Integer, default=0)
    last_payload_id: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = _now()
    last_seen: Mapped[datetime] = _now()
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("carrier", "waybill", name="unmatched_waybill"),
                      Index("unmatched_open", "last_seen", postgresql_where="matched_at is null"))


class ParcelReport(Base):
    """A dealer's report of a damaged or short parcel, with photos (stored in the evidence store by
    content hash): HQ resolves it as a human task."""
    __tablename__ = "parcel_reports"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    parcel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parcels.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list] = mapped_column(Json, default=list)  # [{sha256, content_type, size, filename}]
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = _now()
    outcome: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint("kind in ('damage', 'shortage')", name="report_kind"),)
# --- credit scoring -----------------------------------------------------------------------------

CREDIT_SCORE_STATUSES = ("unchanged", "proposed", "applied", "awaiting_approval", "rejected")


class CreditRun(Base):
    """One credit scoring of every dealer, keyed by the month it scores for (the schedule's on the 1st,
    or a credit manager's on demand): asking for a month twice finds the first. Figures come from the
    ledger before `as_of`, the month's first day (China time)."""
    __tablename__ = "credit_runs"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11
    ruleset_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    workflow_id: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(32))  # scoring, applying, closed
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = _now()
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totals: Mapped[dict] = mapped_column(Json, default=dict)


class CreditScore(Base):
    """One dealer's credit scorecard in one run — the ledger's figures, the score per dimension, the
    rating before and after, the limit before and proposed, and why (rule file, version, rules fired)
    — and where its limit change stands: applied at once (a decrease or a small increase), or waiting
    for one or two approvers (`approvers` lists who approved). The dealer's credit history."""
    __tablename__ = "credit_scores"
    run_month: Mapped[str] = mapped_column(ForeignKey("credit_runs.month"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    old_rating: Mapped[str] = mapped_column(String(1))
    new_rating: Mapped[str] = mapped_column(String(1))
    override: Mapped[str | None] = mapped_column(String(64))
    old_limit: Mapped[Decimal] = mapped_column(Money)
    proposed_limit: Mapped[Decimal] = mapped_column(Money)
    approvals: Mapped[int] = mapped_column(Integer)  # people who must approve the change: 0, 1 or 2
    status: Mapped[str] = mapped_column(String(20))
    figures: Mapped[dict] = mapped_column(Json)
    explanation: Mapped[dict] = mapped_column(Json)
    approvers: Mapped[list] = mapped_column(Json, default=list)  # [{"step", "actor", "outcome", "comment", "at"}]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("credit_score_dealer", "dealer_id", "run_month"),
        Index("credit_score_status", "run_month", "status"),
        CheckConstraint("status in ('unchanged', 'proposed', 'applied', 'awaiting_approval', 'rejected')",
                        name="credit_score_status"),
        CheckConstraint("approvals between 0 and 2", name="credit_score_approvals"),
    )
# --- rule governance --------------------------------------------------------------------------------

class ReplayReport(Base):
    """A what-if replay of a candidate rule file over stored decisions of its kind: totals, breakdown
    and sample rows with both explanations. `content_hash` is the sha256 of its canonical content, so a
    proposal's approver approves exactly the impact they saw."""
    __tablename__ = "replay_reports"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    candidate_sha256: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totals: Mapped[dict] = mapped_column(Json)
    breakdown: Mapped[list] = mapped_column(Json)
    samples: Mapped[list] = mapped_column(Json)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (Index("replay_report_ruleset", "ruleset", "created_at"),)


PROPOSAL_STATUSES = ("open", "approved", "rejected", "withdrawn", "stale")


class RuleProposal(Base):
    """A rule file proposed for deployment: validated, its tests run and a replay reported before a
    second person (not the proposer) approves exactly this content (`sha256`) or rejects it with why."""
    __tablename__ = "rule_proposals"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the version active when proposed
    mode: Mapped[str] = mapped_column(String(16), server_default="active", default="active")
    effective_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    effective_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tests: Mapped[list] = mapped_column(Json)
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("replay_reports.id"))
    status: Mapped[str] = mapped_column(String(16))
    approver_role: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    workflow_id: Mapped[str | None] = mapped_column(String(128))
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = _now()
    comment: Mapped[str] = mapped_column(Text, server_default="", default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)  # the version it became
    emergency: Mapped[bool] = mapped_column(Boolean, server_default="false", default=False)
    __table_args__ = (
        Index("rule_proposal_open", "ruleset", "status"),
        CheckConstraint("status in ('open', 'approved', 'rejected', 'withdrawn', 'stale')", name="rule_proposal_status"),
    )


class RuleAudit(Base):
    """Every step of a rule change: proposed, replayed, approved, rejected, deployed, emergency, shadow."""
    __tablename__ = "rule_audit"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, server_default="", default="")
    at: Mapped[datetime] = _now()
    __table_args__ = (Index("rule_audit_ruleset", "ruleset", "at"),)
# --- service and care ---------------------------------------------------------------------------

SERVICE_STATUSES = ("open", "in_progress", "waiting_dealer", "closed")


class ServiceRequest(Base):
    """A dealer's request (诉求): answered by its category's role (the dealer's account manager by
    default) as a human task, under the service rule file's targets for the dealer's tier."""
    __tablename__ = "service_requests"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, server_default=text("nextval('service_request_number')"),
                                        unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    category: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    tier: Mapped[str] = mapped_column(String(32))  # the tier whose targets run now
    region: Mapped[str] = mapped_column(String(64))  # the dealer's when filed, for reports
    assignee_role: Mapped[str] = mapped_column(String(32))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalate_to: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # the open (or last) human task
    workflow_id: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16))  # resolved | approved | rejected
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    filed_by: Mapped[str] = mapped_column(String(64))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(64))
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("service_request_dealer", "dealer_id", "created_at"),
        Index("service_request_open", "status", "created_at", postgresql_where="status <> 'closed'"),
        CheckConstraint("status in ('open', 'in_progress', 'waiting_dealer', 'closed')", name="service_status"),
        CheckConstraint("satisfaction is null or rated_at is not null", name="service_rated"),
    )


class ServiceMessage(Base):
    """The request's thread: the dealer's text and the answers, with attachments checked like evidence."""
    __tablename__ = "service_messages"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_requests.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    author_role: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list] = mapped_column(Json, default=list)  # [{kind, filename, content_type, size, sha256}]
    created_at: Mapped[datetime] = _now()


SERVICE_CLOCKS = ("response", "resolution")


class ServiceClock(Base):
    """One SLA clock of a request, in working seconds: `used` counted up to `running_since` (None while
    paused or stopped); `due_at` and `remind_at` on the working calendar while it runs. The sweep
    reminds and escalates from these columns, set-based: no timer per request."""
    __tablename__ = "service_clocks"
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_requests.id"), primary_key=True)
    clock: Mapped[str] = mapped_column(String(16), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    target_s: Mapped[int] = mapped_column(Integer)
    used_s: Mapped[int] = mapped_column(Integer, default=0)
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    met: Mapped[bool | None] = mapped_column(Boolean)
    __table_args__ = (
        Index("service_clock_due", "due_at", postgresql_where="stopped_at is null and breached_at is null"),
        Index("service_clock_remind", "remind_at", postgresql_where="stopped_at is null and reminded_at is null"),
        CheckConstraint("clock in ('response', 'resolution')", name="service_clock_kind"),
    )


class ServiceEvent(Base):
    """What happened to a request: filed, answered, paused, resumed, retargeted, reminded, breached,
    closed, rated, reopened."""
    __tablename__ = "service_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_requests.id"), index=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(Json, default=dict)


class CareEvent(Base):
    """A birthday of the dealer's contact or a cooperation anniversary, greeted once a year; its offer's
    points go to the points ledger (source `care`) in the same transaction."""
    __tablename__ = "care_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    occasion: Mapped[str] = mapped_column(String(16))  # birthday | anniversary
    on_date: Mapped[date] = mapped_column(Date)
    years: Mapped[int | None] = mapped_column(Integer)  # anniversaries: years of cooperation
    points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("dealer_id", "occasion", "on_date", name="care_once"),
        Index("care_event_day", "on_date"),
    )


class ContactTask(Base):
    """An account manager's contact due with a dealer, by the tier's cadence; closed by recording a
    contact. One open task per dealer."""
    __tablename__ = "contact_tasks"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    account_manager: Mapped[str | None] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    created_at: Mapped[datetime] = _now()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        Index("contact_task_open", "dealer_id", unique=True, postgresql_where="status = 'open'"),
        Index("contact_task_manager", "account_manager", "due_on", postgresql_where="status = 'open'"),
    )


class DealerContact(Base):
    """A contact with a dealer that an account manager recorded: when, how, what was said."""
    __tablename__ = "dealer_contacts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    by: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # visit | phone | wecom | meeting
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("dealer_contact_latest", "dealer_id", "at"),)


class Redemption(Base):
    """Points a dealer spent on an item of the service file's catalogue: taken from the points ledger
    when asked (source `redemption`), fulfilled by HQ in a human task, given back when refused (source
    `redemption_refund`); both ledger entries are unique per redemption."""
    __tablename__ = "redemptions"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested | fulfilled | refused
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint("status in ('requested', 'fulfilled', 'refused')", name="redemption_status"),)


class Announcement(Base):
    """HQ's announcement (公告), delivered to the dealers its target condition selects (the condition
    language and dealer facts of policy targeting); acknowledged only when it asks for it."""
    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    ack_required: Mapped[bool] = mapped_column(Boolean, default=False)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = _now()


class AnnouncementRecipient(Base):
    __tablename__ = "announcement_recipients"
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("announcement_dealer", "dealer_id", "announcement_id"),)


class ConversationMessage(Base):
    """The conversation between a dealer and its account manager and HQ: one thread per dealer."""
    __tablename__ = "conversation_messages"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    author: Mapped[str] = mapped_column(String(64))
    from_dealer: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (Index("conversation_dealer", "dealer_id", "id"),)


class ConversationRead(Base):
    """How far a reader (the dealer's users share `dealer`; staff by username) has read a thread."""
    __tablename__ = "conversation_reads"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    reader: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_read_id: Mapped[int] = mapped_column(BigInteger)
# --- channel inventory ----------------------------------------------------------------------------

STOCK_SOURCES = ("api", "upload", "form")
SELL_THROUGH_SOURCES = ("feed", "scan")


class StockReport(Base):
    """What a dealer says sits in its warehouse for one sku on one day. A newer report for the same
    day replaces the current one (`current` moves to it; the old row stays as history); one made
    before the current one (`reported_at`) is refused as stale."""
    __tablename__ = "stock_reports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    day: Mapped[date] = mapped_column(Date)  # the business day (China) the stock was counted
    on_hand: Mapped[int] = mapped_column(Integer)
    in_transit: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the count was made
    source: Mapped[str] = mapped_column(String(16))
    reported_by: Mapped[str] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    received_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("stock_report_current", "dealer_id", "product_id", "day", unique=True, postgresql_where="current"),
        Index("stock_report_day", "day", postgresql_where="current"),
        CheckConstraint("on_hand >= 0 and in_transit >= 0", name="stock_report_quantities"),
        CheckConstraint("source in ('api', 'upload', 'form')", name="stock_report_source"),
    )


class SellThrough(Base):
    """Units a dealer sold to stores and consumers on one day: its POS/ERP feed (`feed`, a day sent
    again replaces the figure) or counted from terminal scans of kind `sale` (`scan`). Where a day has
    a feed, the feed counts and that day's scans do not: each unit is counted once."""
    __tablename__ = "sell_through"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reported_by: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("sell_through_day", "day"),
        # The health run reads a year of feed rows in one pass and the few scan rows by this index.
        Index("sell_through_scans", "dealer_id", "product_id", "day", postgresql_where="source = 'scan'"),
        CheckConstraint("quantity >= 0", name="sell_through_quantity"),
        CheckConstraint("source in ('feed', 'scan')", name="sell_through_source"),
    )


class InventorySetting(Base):
    """A dealer's own trigger for one sku: its safety stock (within the rule file's limits)."""
    __tablename__ = "inventory_settings"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    safety_stock: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("safety_stock >= 0", name="inventory_safety_stock"),)


class ReplenishmentOptIn(Base):
    """A dealer that asked for automatic replenishment drafts of its reorder advice."""
    __tablename__ = "replenishment_opt_ins"
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _now()


class InventoryRun(Base):
    """One day's health run over every dealer (scope `*`) or one region: asking for it twice finds
    the first, and its figures and advice are written once."""
    __tablename__ = "inventory_runs"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # a region, or * for all
    ruleset_version: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(32))
    totals: Mapped[dict] = mapped_column(Json, default=dict)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InventoryHealth(Base):
    """One dealer × sku's health on a day, computed for all of them in one statement: stock with its
    source (`reported` that day, `estimated` from the last report plus deliveries less sell-through
    less returns, or from movements alone when never reported) and the age of the report it rests on;
    turnover, cover, sell-through rate (动销率), stock and slow-moving value, the age of its coded units,
    and its monthly orders."""
    __tablename__ = "inventory_health"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    on_hand: Mapped[int] = mapped_column(Integer)
    in_transit: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # reported | estimated
    report_day: Mapped[date | None] = mapped_column(Date)
    report_age_days: Mapped[int | None] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer)  # in the rule file's averaging span
    received: Mapped[int] = mapped_column(Integer)  # delivered less returned in that span
    daily_sales: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    daily_demand: Mapped[Decimal] = mapped_column(Numeric(14, 4))  # the forecast's, else daily_sales
    demand_source: Mapped[str] = mapped_column(String(16))  # forecast | history
    turnover_days: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))  # None: nothing sold
    cover_days: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    sell_through_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    stock_value: Mapped[Decimal] = mapped_column(Money)
    slow_value: Mapped[Decimal] = mapped_column(Money)
    stock_age_days: Mapped[int | None] = mapped_column(Integer)  # coded units still at the dealer
    orders_by_month: Mapped[list[int]] = mapped_column(ARRAY(Integer))  # oldest first, last full month last
    rising_months: Mapped[int] = mapped_column(Integer)
    # No index beyond the key: a day's two million rows are written at once and read by day.


ADVICE_ACTIONS = ("clearance", "cut_replenishment", "reorder", "push_promotion")
ADVICE_STATUSES = ("open", "drafted", "ordered", "dismissed", "policy_drafted")


class InventoryAdvice(Base):
    """One piece of advice for a dealer × sku on a day, with its explanation: the rule file and
    version, the rules that fired, the figures and their sources. The key makes a day's run write it
    once however often it runs."""
    __tablename__ = "inventory_advice"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    action: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[list[str]] = mapped_column(ARRAY(String(24)))
    explanation: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    draft_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("day", "dealer_id", "product_id", "action", name="inventory_advice_once"),
        Index("inventory_advice_dealer", "dealer_id", "day"),
        CheckConstraint("action in ('clearance', 'cut_replenishment', 'reorder', 'push_promotion')",
                        name="inventory_advice_action"),
        CheckConstraint("status in ('open', 'drafted', 'ordered', 'dismissed', 'policy_drafted')",
                        name="inventory_advice_status"),
    )


class ReplenishmentDraft(Base):
    """A draft order from a day's reorder advice: the dealer reviews it and places it in one action,
    through the order service and its credit decision like any other order. One per dealer and day."""
    __tablename__ = "replenishment_drafts"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    day: Mapped[date] = mapped_column(Date)
    automatic: Mapped[bool] = mapped_column(Boolean)  # made by the daily run for a dealer who opted in
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    lines: Mapped[list] = mapped_column(Json)  # [{sku, product_id, quantity, advice_id}]
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    placed_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        UniqueConstraint("dealer_id", "day", name="replenishment_draft_once"),
        CheckConstraint("status in ('draft', 'placed', 'dismissed')", name="replenishment_draft_status"),
    )


FORECAST_SCOPES = ("region", "dealer")


class DemandForecast(Base):
    """A 30-day demand forecast for a region × product or a dealer × product, fitted on a day: the
    model chosen for the series (and why), its horizon, and its backtest error (MASE on the last
    weeks held out) beside the seasonal-naive baseline's."""
    __tablename__ = "demand_forecasts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(64))
    dealer_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0 for a region
    product_id: Mapped[int] = mapped_column(Integer)
    fitted_on: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(32))
    intermittent: Mapped[bool] = mapped_column(Boolean)
    horizon_days: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # demand over the horizon
    daily: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    mase: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    baseline_mase: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    actual: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # demand that came, once the horizon passed
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("scope", "region", "dealer_id", "product_id", "fitted_on", name="demand_forecast_once"),
        Index("demand_forecast_latest", "dealer_id", "product_id", "fitted_on"),
        CheckConstraint("scope in ('region', 'dealer')", name="demand_forecast_scope"),
    )


# --- notification channels: people's addresses and preferences, deliveries, attachments ---

PERSONAL_CHANNELS = ("sms", "wecom_app")  # channels that reach one person at their own address
DELIVERY_STATES = ("pending", "sent", "dead")


class NotificationAddress(Base):
    """A person's own address on a personal channel: a mobile number for SMS, a WeCom userid for
    application messages."""
    __tablename__ = "notification_addresses"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("channel in ('sms', 'wecom_app')", name="notification_address_channel"),)


class NotificationPreference(Base):
    """Whether a kind of notification reaches a person on a personal channel (no row: the default,
    on for what is addressed to the person or its dealer, off for what is addressed to its role)."""
    __tablename__ = "notification_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (CheckConstraint("channel in ('sms', 'wecom_app')", name="notification_preference_channel"),)


class NotificationProfile(Base):
    """A person's quiet hours in Beijing time (start == end: none); non-urgent messages wait for the end."""
    __tablename__ = "notification_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:30"
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("(quiet_start is null) = (quiet_end is null)", name="notification_quiet_pair"),)


class NotificationDelivery(Base):
    """One notification on one channel to one address ('' for a group robot): pending until it is
    sent, retried with backoff, dead after the last attempt or at once on a data error (a 4xx, a bad
    address); an admin resends dead ones."""
    __tablename__ = "notification_deliveries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(8), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("notification_id", "channel", "address", name="notification_delivery_once"),
        CheckConstraint("status in ('pending', 'sent', 'dead')", name="notification_delivery_status"),
        Index("notification_delivery_due", "next_at", postgresql_where="status = 'pending'"),
        Index("notification_delivery_dead", "dead_at", postgresql_where="status = 'dead'"),
    )


class DeliveryAttempt(Base):
    """Every try of a delivery: when, what came of it (sent, retry, dead) and the channel's error text."""
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint("outcome in ('sent', 'retry', 'dead')", name="delivery_attempt_outcome"),)


class MessageAttachment(Base):
    """A file of an announcement or of a conversation message, checked and stored like evidence."""
    __tablename__ = "message_attachments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("conversation_messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("(announcement_id is null) <> (message_id is null)", name="attachment_owner"),)


# --- rule proposals: comments and the start outbox ---------------------------------------------------

class RuleProposalComment(Base):
    """A comment on a rule proposal by an admin (or HQ, on a policy file) or its proposer, shown on the
    proposal's page in the order written; each is on the audit trail too."""
    __tablename__ = "rule_proposal_comments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rule_proposals.id"))
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _now()
    __table_args__ = (Index("rule_proposal_comment_proposal", "proposal_id", "id"),)


class PendingProposalStart(Base):
    """The outbox of rule proposals' workflows: written with the proposal, deleted once its workflow
    (and so its approval task) started. A row left behind — Temporal was unreachable, or the process
    died after the commit — is started by the proposal sweep."""
    __tablename__ = "rule_proposal_starts"
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rule_proposals.id"), primary_key=True)
    queued_at: Mapped[datetime] = _now()


# --- shadow outcomes ---

class ShadowOutcome(Base):
    """A shadow version's outcome on one live decision of a kind whose decisions are not rows of
    `decisions` (a credit scorecard, a day's advice for a dealer × sku, a service request's targets),
    written in the decision's own transaction and never acted on. `live` and each shadow's `value` are
    the comparable summary of the outcome (a rating and limit, the advice actions, the targets)."""
    __tablename__ = "shadow_outcomes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))  # the decision's key within its kind
    live_version: Mapped[int] = mapped_column(Integer)
    live: Mapped[str] = mapped_column(String(200))
    live_reason: Mapped[str] = mapped_column(Text, default="")
    shadow: Mapped[dict] = mapped_column(Json)  # version → {value, outcome, rule, reason} or {error}
    context: Mapped[dict] = mapped_column(Json)  # dealer, region, amount: what the dashboard shows
    decided_at: Mapped[datetime] = _now()
    __table_args__ = (UniqueConstraint("ruleset", "subject", name="shadow_outcome_once"),
                      Index("shadow_outcome_ruleset_time", "ruleset", "decided_at"))


# --- care offers and cash redemptions ---------------------------------------------------------------

class CareOfferGiven(Base):
    """An offer of a care greeting beyond points: a coupon-like credit (booked on the dealer's account,
    source `care_offer`, unique per row) or a rebate program's anniversary extra (granted when the
    program pays one for these years; otherwise kept with the reason it does not apply)."""
    __tablename__ = "care_offers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("care_events.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # credit | rebate_extra
    program: Mapped[str] = mapped_column(String(64), default="", server_default="")
    amount: Mapped[Decimal | None] = mapped_column(Money)  # credits
    rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 6))  # rebate extras: the share of the measure
    applies: Mapped[bool] = mapped_column(Boolean, default=True)
    explanation: Mapped[dict] = mapped_column(Json)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("event_id", "kind", "program", name="care_offer_once"),
        CheckConstraint("kind in ('credit', 'rebate_extra')", name="care_offer_kind"),
    )


class RedemptionCash(Base):
    """A cash item's money: points converted at the rebate program's per-point value when redeemed,
    booked on the dealer's account (source `redemption_cash`) once, when HQ fulfils it."""
    __tablename__ = "redemption_cash"
    redemption_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("redemptions.id"), primary_key=True)
    program: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    per_point: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)


# --- settlement figures -----------------------------------------------------------------------------

class SettlementFigures(Base):
    """What a settlement run read for each dealer it evaluated, eligible or not: the dealer facts and
    the figures (measure, prior measure, anniversary, points, paid before) its program decided on,
    written with the statements. A replay of a candidate program reads them, so who would enter
    eligibility is decided on the period's figures, not today's."""
    __tablename__ = "settlement_figures"
    run_id: Mapped[str] = mapped_column(ForeignKey("settlement_runs.id"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    eligible: Mapped[bool] = mapped_column(Boolean)
    facts: Mapped[dict] = mapped_column(Json)
    figures: Mapped[dict] = mapped_column(Json)
