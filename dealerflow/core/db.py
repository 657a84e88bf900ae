"""Engine and session factory. One engine per process; sessions are short and explicit."""
from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker, Session


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    """No overflow: connections opened above the pool are closed on return, and under load
    PostgreSQL then forks a backend every few requests (most of its CPU in the acknowledgment
    benchmark). A request waits for a pooled connection instead."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects are read after commit to build API responses.
    return sessionmaker(engine, expire_on_commit=False)
