"""Paging of the console's lists: the page number from the query, the limit and offset of that
page, the total counted in SQL, and the links of `_pager.html` ("page 2 of 7 · 312 in all",
previous and next), which keep the list's filters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

SIZE = 50
MOST = 100_000  # a page number beyond this is read as the last page


def page_number(request: Request) -> int:
    """`?page=N` of the request; anything else (missing, not a number, below 1) is the first page."""
    raw = request.query_params.get("page", "")
    try:
        n = int(raw)
    except ValueError:
        return 1
    return min(max(n, 1), MOST)


def count(session: Session, query: Select) -> int:
    """How many rows a list's query has, in SQL (its order and limit dropped)."""
    inner = query.order_by(None).limit(None).offset(None)
    return session.scalar(select(func.count()).select_from(inner.subquery())) or 0


@dataclass
class Paging:
    number: int
    size: int
    total: int
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def limit(self) -> int:
        return self.size

    @property
    def previous(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.pages else None

    def url(self, number: int) -> str:
        """The query of another page of the same list: the filters kept (empty ones left out)."""
        kept = {k: v for k, v in self.filters.items() if v not in (None, "", False)}
        return "?" + urlencode({**kept, "page": number})

    def slice(self, rows: Sequence) -> list:
        """This page of a list already in memory (one that cannot grow much)."""
        return list(rows[self.offset:self.offset + self.size])


def paging(request: Request, total: int, size: int = SIZE, **filters) -> Paging:
    """The page asked for (past the last page: the last page) of a list of `total` rows."""
    p = Paging(page_number(request), size, total, filters)
    if p.number > p.pages:
        p.number = p.pages
    return p
