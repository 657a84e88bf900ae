"""Order side effects: create the order and take its credit decision; apply a reviewer's outcome."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.orders import credit as orders
from dealerflow.contracts import CreditDecision, PlaceOrderInput, ReviewOutcomeInput


class OrderActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def decide_credit(self, inp: PlaceOrderInput) -> CreditDecision:
        # Bad input (OrderInputError) fails for good, with its field: the API reports it as 422.
        with self.sessions.begin() as session:
            return orders.place_and_decide(session, inp, activity.info().workflow_id)

    @activity.defn
    def apply_review(self, inp: ReviewOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return orders.apply_review(session, inp.order_id, inp.task)
