"""The database schema. Money is Numeric(14, 2) here and Decimal in Python, never float."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
    UniqueConstraint, func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Money = Numeric(14, 2)
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


def _now():
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


ROLES = ("admin", "hq", "credit_manager", "account_manager", "finance", "dealer")


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
    # Receivables booked outside the platform (ERP); approved unpaid orders are added on top.
    outstanding: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    rating: Mapped[str] = mapped_column(String(1), default="C")
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    account_manager: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    channel: Mapped[str] = mapped_column(String(32), default="retail", server_default="retail")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("level in (1, 2)", name="dealer_level"),
        CheckConstraint("credit_limit >= 0 and outstanding >= 0 and overdue_days >= 0", name="dealer_credit"),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    created_at: Mapped[datetime] = _now()
    dealer: Mapped[Dealer | None] = relationship(lazy="joined")
    __table_args__ = (
        CheckConstraint("role in ('admin', 'hq', 'credit_manager', 'account_manager', 'finance', 'dealer')",
                        name="user_role"),
        CheckConstraint("(role = 'dealer') = (dealer_id is not null)", name="user_dealer_scope"),
    )


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="other")
    unit_price: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("unit_price >= 0", name="product_price"),)


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
    workflow_id: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lines: Mapped[list["OrderLine"]] = relationship(order_by="OrderLine.line_no", lazy="selectin")
    __table_args__ = (
        UniqueConstraint("dealer_id", "idempotency_key", name="order_idempotency"),
        Index("order_dealer_status", "dealer_id", "status"),
        Index("order_dealer_created", "dealer_id", "created_at"),
        Index("order_delivered", "delivered_at", postgresql_where="delivered_at is not null"),
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
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "ruleset", name="decision_once"),)


class RuleVersion(Base):
    """Deployed rule files. The highest version of a ruleset is the active one."""
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
    __table_args__ = (UniqueConstraint("ruleset", "version", name="rule_version_unique"),)


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

RUN_STAGES = ("freezing", "awaiting_confirmation", "awaiting_approval", "posting", "closed", "rejected")


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
