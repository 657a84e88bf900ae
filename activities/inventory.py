"""Channel inventory side effects: begin a day's run, count sale scans, measure health and advise
(a slice of the dealers each), conclude with tasks and notifications, close; fit the forecasts."""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, TimeoutError as StillRunning
from concurrent.futures.process import BrokenProcessPool
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dealerflow.contracts import (AdviceResult, ForecastInput, ForecastResult, HealthResult, InventoryRunPlan,
                                  InventoryStepInput)
from dealerflow.core.db import make_engine, make_sessionmaker
from dealerflow.inventory import advice as inventory, reports
from dealerflow.shared.accounts import day_start

SCAN_DAYS = 7  # sale scans recounted each day: late uploads of the last week are caught
HEARTBEAT_SECONDS = 10
_advisers: list[ProcessPoolExecutor] = []
_advisers_lock = threading.Lock()
_sessions: dict[str, sessionmaker[Session]] = {}  # an adviser process's, by database


def advisers() -> ProcessPoolExecutor:
    """The processes a slice's advice runs in, one pool per worker process (started on first use,
    stopped when the process exits): advice is Python work (facts, checks, explanations), so the
    slices advise on as many cores as there are slices rather than on one interpreter's."""
    with _advisers_lock:
        if not _advisers:
            _advisers.append(ProcessPoolExecutor(inventory.SLICES, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_exit_with_worker))
        return _advisers[0]


def start_advisers(url: str) -> None:
    """Start the adviser processes now (a worker process does, as it starts): their interpreters,
    imports and the live inventory rule file's compilation are ready before the day's run."""
    pool = advisers()
    for _ in range(inventory.SLICES):  # a process each: none is idle while another call waits
        pool.submit(_warm, url)


def _exit_with_worker() -> None:
    """An adviser process ends when its worker does, however the worker ended (killed, out of
    memory): a pool's processes hold both ends of its queue, so they would otherwise wait for ever."""
    parent = multiprocessing.parent_process()

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


def _warm(url: str) -> None:
    try:
        with _sessions_for(url)() as session:
            inventory.ruleset(session)
    except Exception:  # no rule file yet, no database: the run says so when it comes
        pass


def _sessions_for(url: str) -> sessionmaker[Session]:
    if url not in _sessions:
        _sessions[url] = make_sessionmaker(make_engine(url, pool_size=2))
    return _sessions[url]


def _advise_slice(url: str, inp: InventoryStepInput) -> int:
    """In an adviser process: a slice's advice in its own transaction (what it wrote)."""
    with _sessions_for(url).begin() as session:
        return inventory.advise_slice(session, inp)


class InventoryActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def begin_inventory_run(self, inp: InventoryStepInput) -> InventoryRunPlan:
        try:
            with self.sessions.begin() as session:
                return inventory.begin(session, inp)
        except inventory.InventoryError as e:
            raise ApplicationError(str(e), type="InventoryError", non_retryable=True) from None

    @activity.defn
    def count_inventory_scan_sales(self, inp: InventoryStepInput) -> int:
        with self.sessions.begin() as session:
            since = day_start(date.fromisoformat(inp.day) - timedelta(days=SCAN_DAYS))
            return reports.collect_scan_sales(session, since=since)

    @activity.defn
    def measure_inventory(self, inp: InventoryStepInput) -> HealthResult:
        with self.sessions.begin() as session:
            return HealthResult(inventory.measure(session, inp))

    @activity.defn
    def advise_inventory(self, inp: InventoryStepInput) -> int:
        url = self.sessions.kw["bind"].url.render_as_string(hide_password=False)
        pool = advisers()
        try:
            advised = pool.submit(_advise_slice, url, inp)
            while True:
                try:
                    return advised.result(timeout=HEARTBEAT_SECONDS)
                except StillRunning:
                    activity.heartbeat("advising")
        except BrokenProcessPool:  # an adviser died (killed, out of memory): the retry gets new ones
            with _advisers_lock:
                if _advisers and _advisers[0] is pool:
                    _advisers.clear()
            raise

    @activity.defn
    def conclude_inventory_advice(self, inp: InventoryStepInput) -> AdviceResult:
        with self.sessions.begin() as session:
            return inventory.conclude(session, inp)

    @activity.defn
    def close_inventory_run(self, inp: InventoryStepInput) -> dict:
        with self.sessions.begin() as session:
            return inventory.close(session, inp)

    @activity.defn
    def fit_forecasts(self, inp: ForecastInput) -> ForecastResult:
        from dealerflow.inventory import forecast

        with self.sessions.begin() as session:
            return forecast.fit_all(session, day=date.fromisoformat(inp.day), progress=activity.heartbeat)

    def all(self) -> list:
        return [self.begin_inventory_run, self.count_inventory_scan_sales, self.measure_inventory,
                self.advise_inventory, self.conclude_inventory_advice, self.close_inventory_run, self.fit_forecasts]
