"""Tiering side effects: score every dealer, apply the changes, flag silent dealers and open their
activation tasks, record the downgrade approval, close the run."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dealerflow.service import sla
from dealerflow.tiering import runs as tiering
from dealerflow.contracts import ApplyResult, DowngradeOutcomeInput, ScoreResult, SilentResult, TieringStepInput


class TieringActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def score_dealers(self, inp: TieringStepInput) -> ScoreResult:
        try:
            with self.sessions.begin() as session:
                return tiering.score_run(session, inp, progress=activity.heartbeat)
        except tiering.TieringError as e:  # a month that cannot run, or no tiering file: retrying will not help
            raise ApplicationError(str(e), type="TieringError", non_retryable=True) from None

    @activity.defn
    def apply_tier_changes(self, inp: TieringStepInput) -> ApplyResult:
        with self.sessions.begin() as session:
            applied = tiering.apply_changes(session, inp)
            # open requests run on the new tier's targets from this moment
            sla.retarget_changed_tiers(session, datetime.now(timezone.utc))
            return applied

    @activity.defn
    def flag_silent_dealers(self, inp: TieringStepInput) -> SilentResult:
        with self.sessions.begin() as session:
            return tiering.flag_silent(session, inp)

    @activity.defn
    def decide_downgrades(self, inp: DowngradeOutcomeInput) -> int:
        with self.sessions.begin() as session:
            decided = tiering.decide_downgrades(session, inp)
            sla.retarget_changed_tiers(session, datetime.now(timezone.utc))
            return decided

    @activity.defn
    def close_tiering_run(self, inp: TieringStepInput) -> dict:
        with self.sessions.begin() as session:
            return tiering.close_run(session, inp)

    def all(self) -> list:
        return [self.score_dealers, self.apply_tier_changes, self.flag_silent_dealers, self.decide_downgrades,
                self.close_tiering_run]
