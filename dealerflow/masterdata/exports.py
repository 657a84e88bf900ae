"""Exports of dealers, products and users in the import's columns, so a file exported, edited in
Excel and imported again changes exactly what was edited. CSV is UTF-8 with a byte order mark (Excel
on a Chinese Windows opens it right); XLSX through shared/exports."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from dealerflow.models import Dealer, Product, User
from dealerflow.shared.exports import table_csv, table_xlsx

from .imports import EXPORT_COLUMNS
from .records import plain

TITLES = {"dealers": "dealers", "products": "products", "users": "users"}


def rows(session: Session, kind: str) -> list[dict]:
    if kind == "dealers":
        parent = aliased(Dealer)
        out = []
        for d, parent_code in session.execute(select(Dealer, parent.code).outerjoin(
                parent, parent.id == Dealer.parent_id).order_by(Dealer.code)):
            row = {c: getattr(d, c) for c in EXPORT_COLUMNS["dealers"] if c != "parent_code"}
            row["parent_code"], row["tags"] = parent_code, ",".join(d.tags or [])
            out.append(row)
        return out
    if kind == "products":
        return [{c: getattr(p, c) for c in EXPORT_COLUMNS["products"]}
                for p in session.scalars(select(Product).order_by(Product.sku))]
    return [{"username": u.username, "role": u.role, "dealer_code": u.dealer.code if u.dealer else None,
             "region": u.region, "display_name": u.display_name, "phone": u.phone, "active": u.active}
            for u in session.scalars(select(User).order_by(User.username))]


def _cell(value):
    """Booleans and dates as the import reads them; money and counts stay numbers."""
    return plain(value) if isinstance(value, (bool, date)) else value


def export(session: Session, kind: str, fmt: str) -> bytes:
    """The whole table of `kind` as CSV or XLSX."""
    data = [{k: _cell(v) for k, v in r.items()} for r in rows(session, kind)]
    columns = EXPORT_COLUMNS[kind]
    return table_xlsx(columns, data, title=TITLES[kind]) if fmt == "xlsx" else table_csv(columns, data)
