"""The impact of a candidate rule file: validated, replayed over a window of stored decisions and
stored as a report with its content hash. Called alike by the API, the console, the CLI and a proposal."""
from __future__ import annotations

from sqlalchemy.orm import Session

from dealerflow.governance import reports
from dealerflow.governance.replay import DEFAULT_SAMPLES, Window, candidate, evaluate
from dealerflow.models import ReplayReport


def replay(session: Session, *, filename: str, text: str, window: Window, actor: str,
           samples: int = DEFAULT_SAMPLES) -> ReplayReport:
    """Replay `text` over `window` and store the report (the caller commits). Nothing is stored when the
    file is invalid (RuleFileError), of another kind than its ruleset (Conflict), of a kind without a
    replay, or when the window holds no decision (Invalid)."""
    rule_file = candidate(session, filename, text)
    outcome = evaluate(session, rule_file, window, samples)
    return reports.store(session, rule_file, window, outcome, actor=actor)
