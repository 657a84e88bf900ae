"""Shared fixtures: one real PostgreSQL and one real Temporal dev server per test session; per
test a fresh task queue with its own worker and API app, and factories for dealers and users."""
from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from api.app import create_app
from dealerflow.core.config import Settings
from dealerflow.core.db import make_engine, make_sessionmaker
from dealerflow.models import Dealer, Product, RuleVersion, User
from dealerflow.shared import accounts, rulebook
from policies_dsl import load_rule_file
from dealerflow.core.runtime import free_port
from dealerflow.core.security import hash_password, issue_token
from dealerflow.core.temporal import connect
from launcher.stack import EmbeddedStack, prepare
from launcher.worker import run_worker

from .support import PASSWORD

_PASSWORD_HASH = hash_password(PASSWORD)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("stack")
    stack = EmbeddedStack(data_dir, free_port(), None, persistent=False)
    # The fixtures deploy rule files directly; tests/test_governance*.py turn four eyes on for their app.
    settings = stack.start(Settings.from_env({"DEALERFLOW_DATA_DIR": str(data_dir), "DEALERFLOW_RULES_FOUR_EYES": "0"}))
    try:
        prepare(settings)
        yield settings
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def sessions(stack_settings):
    engine = make_engine(stack_settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def shipped_rules(request):
    """Each test owns the rule files it deploys: a shipped ruleset (rules/) that a test replaced is
    put back afterwards, so any order and any subset of tests sees the same rules. Tests that never
    touch the database do not start it for this."""
    if "sessions" not in request.fixturenames:
        yield
        return
    sessions = request.getfixturevalue("sessions")
    with sessions() as s:
        before = s.scalar(select(func.coalesce(func.max(RuleVersion.id), 0)))
    yield
    with sessions.begin() as s:
        changed = set(s.scalars(select(RuleVersion.ruleset).where(RuleVersion.id > before)))
        # A shadow a test started ends with it (its record stays).
        s.execute(update(RuleVersion).where(RuleVersion.id > before, RuleVersion.mode == "shadow",
                                            RuleVersion.shadow_ended_at.is_(None)).values(shadow_ended_at=func.now()))
        if changed:
            rules_dir = request.getfixturevalue("stack_settings").rules_dir
            for path in sorted(rules_dir.rglob("*.yaml")):
                shipped = load_rule_file(str(path), path.read_text(encoding="utf-8"))
                if shipped.name in changed:
                    rulebook.deploy(s, filename=rulebook.display_name(path, rules_dir),
                                    text=path.read_text(encoding="utf-8"), actor="tests")


class WorkerThread:
    """A real worker on its own event loop in a background thread, polling one task queue."""

    def __init__(self, settings: Settings, sessions):
        self.settings, self.sessions = settings, sessions
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            client = await connect(self.settings)
            self._ready.set()
            await run_worker(client, self.sessions, self.settings, self._stop)
        try:
            asyncio.run(main())
        except BaseException as e:  # surfaced by stop()
            self._error = e
            self._ready.set()

    def start(self) -> "WorkerThread":
        self._thread.start()
        assert self._ready.wait(30), "worker did not start"
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error:
            raise self._error


@pytest.fixture
def settings(stack_settings) -> Settings:
    """Settings with a task queue of this test's own."""
    return stack_settings.with_(task_queue=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def worker(settings, sessions):
    w = WorkerThread(settings, sessions).start()
    yield w
    w.stop()


@pytest.fixture
def client(settings, worker) -> TestClient:
    """The app, asked in English (the console speaks zh-CN unless the browser or the user asks otherwise):
    the tests read the console's English texts; tests/test_console_i18n.py reads the Chinese ones."""
    with TestClient(create_app(settings), headers={"Accept-Language": "en"}) as c:
        yield c


@dataclass
class Actor:
    user: User
    headers: dict
    dealer: Dealer | None = None


@pytest.fixture
def make_user(sessions, stack_settings) -> Callable[..., Actor]:
    def make(role: str, dealer: Dealer | None = None, region: str | None = None) -> Actor:
        username = f"{role}-{uuid.uuid4().hex[:10]}"
        with sessions.begin() as s:
            s.execute(insert(User).values(username=username, password_hash=_PASSWORD_HASH, role=role,
                                          dealer_id=dealer.id if dealer else None, region=region))
        with sessions() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
        token = issue_token(username=username, role=role, secret=stack_settings.secret_key, minutes=60)
        return Actor(user, {"Authorization": f"Bearer {token}"}, dealer)
    return make


@pytest.fixture
def make_dealer(sessions, make_user) -> Callable[..., Actor]:
    """A dealer with its own dealer user. Defaults: rating A, limit 10,000.00, nothing outstanding.
    `outstanding` and `overdue_days` are booked on its ledger as one opening invoice (100.00 when only
    overdue days are given) dated so that it is that many days past the dealer's payment terms."""
    def make(**fields) -> Actor:
        values = dict(code=f"T{uuid.uuid4().hex[:10].upper()}", name="Test Doors & Windows", region="east",
                      level=1, tier="normal", credit_limit=Decimal("10000.00"), outstanding=Decimal("0.00"),
                      rating="A", overdue_days=0)
        values.update(fields)
        with sessions.begin() as s:
            dealer = Dealer(**values)
            s.add(dealer)
            owed, overdue = Decimal(values["outstanding"]), values["overdue_days"]
            if owed or overdue:
                s.flush()
                today = accounts.business_date(datetime.now(timezone.utc))
                terms = values.get("payment_terms_days", 30)
                accounts.book(s, [accounts.entry(
                    dealer_id=dealer.id, kind="delivery", amount=owed or Decimal("100.00"),
                    value_date=today - timedelta(days=terms + overdue) if overdue else today,
                    source_type="opening", source_id=dealer.code, note="opening balance")])
        return make_user("dealer", dealer)
    return make


@pytest.fixture
def product(sessions) -> Product:
    """A product priced 100.00 a unit."""
    with sessions.begin() as s:
        p = Product(sku=f"SKU-{uuid.uuid4().hex[:8]}", name="Oak door", category="door",
                    unit_price=Decimal("100.00"))
        s.add(p)
    return p
