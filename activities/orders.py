"""Order side effects: create the order and take its credit decision; apply a reviewer's outcome."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dealerflow.orders import credit as orders
from dealerflow.contracts import CreditDecision, PlaceOrderInput, ReviewOutcomeInput


class OrderActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def decide_credit(self, inp: PlaceOrderInput) -> CreditDecision:
        try:
            with self.sessions.begin() as session:
                return orders.place_and_decide(session, inp, activity.info().workflow_id)
        except orders.OrderInputError as e:
            # Bad input will not get better on retry; the API reports it as 422.
            raise ApplicationError(str(e), {"field": e.field, "message": e.message},
                                   type="OrderInputError", non_retryable=True) from None

    @activity.defn
    def apply_review(self, inp: ReviewOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return orders.apply_review(session, inp.order_id, inp.task)
