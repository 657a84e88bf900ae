"""`dealerflow rules propose | proposals | approve | reject | versions`: four eyes from a terminal,
through the services and Temporal calls the API uses (dealerflow/governance/, api/governance/). The
caller is a user of the platform (`--as`, default $DEALERFLOW_USER, then $USER) with the role the
API would ask for: an admin, or HQ for policy files."""
from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

COMMAND = "dealerflow rules"


def _when(text: str | None, option: str) -> datetime | None:
    """A date-time as people write it: without a zone it is Beijing time."""
    from dealerflow.core.errors import Invalid
    from dealerflow.shared.accounts import CHINA

    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{option}: {text!r} is not a date and time like 2026-12-01T08:00", field=option) from None
    return at.replace(tzinfo=CHINA) if at.tzinfo is None else at


def _user(session, name: str | None):
    from dealerflow.core.errors import Forbidden
    from dealerflow.models import User

    username = name or os.environ.get("DEALERFLOW_USER") or os.environ.get("USER") or ""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise Forbidden(f"no active user {username!r}: give one with --as")
    if user.role not in ("admin", "hq"):
        raise Forbidden(f"user {username!r} is {user.role}: rule changes are proposed and approved by admin or hq")
    return user


def _proposal_id(text: str):
    from dealerflow.core.errors import Invalid
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(f"{text!r} is not a proposal id (a UUID, as `{COMMAND} proposals` lists them)",
                      field="id") from None


def run(args, settings) -> int:
    """One of the governance actions; 1 on a refusal (its message on stderr), 0 otherwise."""
    from policies_dsl import RuleFileError
    from dealerflow.core.db import make_engine, make_sessionmaker
    from dealerflow.core.errors import DomainError

    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        return {"propose": _propose, "proposals": _list, "approve": _decide, "reject": _decide,
                "versions": _versions}[args.action](args, settings, sessions)
    except RuleFileError as e:
        print(e, file=sys.stderr)
        return 1
    except DomainError as e:
        print(f"{COMMAND} {args.action}: {e}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _propose(args, settings, sessions) -> int:
    from api.admin.rules import deploy_kinds
    from api.governance.temporal import start_proposal
    from dealerflow.core.temporal import connect
    from dealerflow.governance import proposals
    from dealerflow.shared.rulebook import display_name

    if len(args.paths) != 1:
        print(f"{COMMAND} propose: name one rule file", file=sys.stderr)
        return 1
    path = Path(args.paths[0])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        print(f"{path}: {e.strerror}", file=sys.stderr)
        return 1
    with sessions() as session:
        user = _user(session, args.as_user)
        proposal = proposals.propose(session, filename=display_name(path, settings.rules_dir), text=text,
                                     actor=user.username, kinds=deploy_kinds(user),
                                     effective_from=_when(args.effective_from, "--effective-from"),
                                     effective_until=_when(args.effective_until, "--effective-until"),
                                     comment=(args.note or "")[:2000])
        spec = proposals.review_spec(session, proposal)
        session.commit()
        pid, workflow_id, ruleset = proposal.id, proposal.workflow_id, proposal.ruleset

    async def start() -> bool:
        try:
            client = await connect(settings)
        except Exception as e:  # saved: the proposal sweep opens its task once Temporal is back
            print(f"workflow service unreachable ({e}): the approval task opens from the sweep", file=sys.stderr)
            return False
        return await start_proposal(client=client, task_queue=settings.task_queue, workflow_id=workflow_id,
                                    proposal_id=str(pid), review=spec, sessions=sessions)

    started = asyncio.run(start())
    print(f"proposal {pid}: {ruleset}, waiting for a second person"
          + ("" if started else " (its task opens when the workflow service answers)"))
    return 0


def _list(args, settings, sessions) -> int:
    from dealerflow.governance import proposals
    from dealerflow.shared.accounts import CHINA

    with sessions() as session:
        user = _user(session, args.as_user)
        rows = [p for p in proposals.listing(session, args.status) if proposals.may_read(user, p)]
        for p in rows:
            print(f"{p.id}  {p.status:<9} {p.ruleset:<24} by {p.proposed_by:<16} "
                  f"{p.proposed_at.astimezone(CHINA):%Y-%m-%d %H:%M}"
                  + (f"  from {p.effective_from.astimezone(CHINA):%Y-%m-%d %H:%M}" if p.effective_from else "")
                  + (f"  until {p.effective_until.astimezone(CHINA):%Y-%m-%d %H:%M}" if p.effective_until else "")
                  + (f"  v{p.version}" if p.version else ""))
        if not rows:
            print("no proposals")
    return 0


def _decide(args, settings, sessions) -> int:
    from api.admin.rules import schedule_calls
    from api.governance.temporal import answer_task
    from dealerflow.contracts import TaskResult
    from dealerflow.core.errors import Invalid
    from dealerflow.core.temporal import connect
    from dealerflow.governance import proposals

    if len(args.paths) != 1:
        raise Invalid(f"name one proposal id: {COMMAND} {args.action} ID", field="id")
    proposal_id = _proposal_id(args.paths[0])
    outcome = "approve" if args.action == "approve" else "reject"
    comment = (args.reason or args.note or "")[:2000]
    with sessions() as session:
        user = _user(session, args.as_user)
        proposal = proposals.get(session, proposal_id)
        proposals.check_decision(session, proposal, user, outcome, comment)
        task_id, username = str(proposal.task_id), user.username

    async def answer() -> str:
        client = await connect(settings)
        await answer_task(client=client, task_id=task_id, outcome=outcome, actor=username, comment=comment)
        with sessions.begin() as session:
            status = proposals.apply_answer(session, str(proposal_id), TaskResult(task_id, outcome, username, comment))
        with sessions() as session:
            p = proposals.get(session, proposal_id)
            print(f"proposal {p.id}: {status}" + (f", {p.ruleset} v{p.version}" if p.version else ""))
            kind, ruleset = p.kind, p.ruleset
        if status == "approved":  # the schedules the new version drives, as the API brings them up to date
            for fn, kw in schedule_calls(kind, ruleset, client=client, sessions=sessions,
                                         task_queue=settings.task_queue):
                await fn(**kw)
        return status

    status = asyncio.run(answer())
    return 0 if status in ("approved", "rejected") else 1


def _versions(args, settings, sessions) -> int:
    from dealerflow.core.errors import Forbidden, Invalid
    from dealerflow.governance import versions
    from dealerflow.shared.accounts import CHINA

    if len(args.paths) != 1:
        raise Invalid(f"name one ruleset: {COMMAND} versions RULESET", field="ruleset")
    with sessions() as session:
        user = _user(session, args.as_user)
        entries = versions.timeline(session, args.paths[0])
        if user.role != "admin" and entries[0].version.kind != "policy":
            raise Forbidden("only an admin reads this ruleset's versions")
        for e in entries:
            v = e.version
            start = v.effective_from or v.deployed_at
            print(f"v{v.version:<4} {e.state:<12} from {start.astimezone(CHINA):%Y-%m-%d %H:%M}"
                  + (f" until {v.effective_until.astimezone(CHINA):%Y-%m-%d %H:%M}" if v.effective_until else "")
                  + f"  by {v.deployed_by}  sha256 {v.sha256[:12]}")
    return 0
