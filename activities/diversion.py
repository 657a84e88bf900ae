"""Anti-diversion side effects: assess a case and describe its investigation, apply the
investigator's answer, and the periodic sweep (shipment patterns, clean quarters, lost cases)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.shared import credit_points
from dealerflow.diversion import cases as diversion
from dealerflow.contracts import (CaseOutcomeInput, CaseResult, DiversionSweepInput, DiversionSweepResult,
                                  Investigation, InvestigationInput)

# The API starts a case's workflow right after its commit; the sweep starts only those it missed.
LOST_AFTER = timedelta(minutes=1)


class DiversionActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def open_investigation(self, inp: InvestigationInput) -> Investigation:
        with self.sessions.begin() as session:
            return diversion.open_investigation(session, inp)

    @activity.defn
    def resolve_case(self, inp: CaseOutcomeInput) -> CaseResult:
        with self.sessions.begin() as session:
            return diversion.resolve(session, inp)

    @activity.defn
    def sweep_diversion(self, inp: DiversionSweepInput) -> DiversionSweepResult:
        with self.sessions.begin() as session:
            alerts, cases = diversion.sweep_patterns(session, now=inp.now)
        earned = 0
        with self.sessions.begin() as session:
            active = diversion.rules(session)
            if active is not None:
                spec = active[1]
                earned = credit_points.earn_back(session, now=inp.now, points=spec.earn_back_points,
                                                 up_to=spec.earn_back_up_to)
        with self.sessions() as session:
            lost = diversion.unstarted(session, opened_before=inp.now - LOST_AFTER)
        known = {c.case_id for c in cases}
        return DiversionSweepResult(alerts, cases + [c for c in lost if c.case_id not in known], earned)

    def all(self) -> list:
        return [self.open_investigation, self.resolve_case, self.sweep_diversion]
