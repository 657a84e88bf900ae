"""Order side effects: apply a reviewer's outcome; the order sweep's look for lost workflow starts."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.orders import credit as orders
from dealerflow.contracts import OrderSweepInput, OrderSweepResult, ReviewOutcomeInput

# The API starts an order's workflow right after its commit; the sweep starts only those it missed.
LOST_AFTER = timedelta(minutes=1)


class OrderActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def apply_review(self, inp: ReviewOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return orders.apply_review(session, inp.order_id, inp.task)

    @activity.defn
    def unstarted_orders(self, inp: OrderSweepInput) -> OrderSweepResult:
        with self.sessions() as session:
            return OrderSweepResult(orders.unstarted(session, queued_before=inp.now - LOST_AFTER))

    @activity.defn
    def orders_started(self, order_ids: list[str]) -> int:
        with self.sessions.begin() as session:
            orders.started(session, [uuid.UUID(i) for i in order_ids])
        return len(order_ids)

    def all(self) -> list:
        return [self.apply_review, self.unstarted_orders, self.orders_started]
