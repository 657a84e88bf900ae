"""Engine and session factory. One engine per process; sessions are short and explicit."""
from __future__ import annotations

import io
from typing import Callable, Iterable, Sequence

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


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[dict],
              encode: Callable[[object], str] = str) -> None:
    """Rows into `table` by COPY, in the session's transaction: many rows at a fraction of an
    INSERT's cost. CSV with every value quoted, so only an unquoted \\N is NULL (a text "\\N" stays
    text); `encode` turns a value into its text (arrays, JSON)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write(",".join([r"\N" if (value := row.get(c)) is None else '"' + encode(value).replace('"', '""') + '"'
                               for c in columns]) + "\n")
    buffer.seek(0)
    with session.connection().connection.cursor() as cursor:
        cursor.copy_expert(f"copy {table} ({', '.join(columns)}) from stdin with (format csv, null '\\N')", buffer)
