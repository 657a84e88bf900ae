"""Product codes (一物一码): registered in bulk per production batch, bound at shipment to the shipping
dealer and its region (the code's authorised region), and traced with every scan.

A batch of a given size is generated inside PostgreSQL (one INSERT … SELECT over generate_series:
faster than any COPY of the same rows); an explicit list travels as one array parameter. Binding
and its checks are a few set-based statements whatever the number of codes. Both are all or
nothing: a refusal lists every problem (up to MAX_PROBLEMS) by its index or serial."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from dealerflow.core.errors import Invalid
from sqlalchemy import String, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from dealerflow.models import CodeBatch, Dealer, DiversionAlert, DiversionCase, Order, Product, ProductCode, Scan

MAX_GENERATED = 10_000_000
MAX_LISTED = 100_000
MAX_PROBLEMS = 1000
BINDABLE = ("approved", "shipped", "delivered", "completed")  # orders whose goods may leave with codes


class CodeError(Invalid):
    """Refused with nothing written: `problems` are {index|serial|field, message}; `status` is the
    HTTP status that fits (422 invalid, 404 unknown order/dealer/batch, 409 conflict)."""

    def __init__(self, problems: list[dict], status: int = 422):
        self.problems, self.status = problems, status
        super().__init__("; ".join(p["message"] for p in problems[:5]), errors=problems)
        self.kind = {404: "not_found", 409: "conflict"}.get(status, "invalid")


@dataclass(frozen=True)
class Registered:
    batch_no: str
    sku: str
    codes: int
    first: str
    last: str


_GENERATE = text("""
    insert into product_codes (code, batch_id, serial, product_id)
    select :prefix || lpad(i::text, :width, '0') || '-' || upper(substr(md5(random()::text || i), 1, 6)),
           :batch, i, :product
    from generate_series(1, :count) i
    on conflict (code) do nothing""")

_LISTED = text("""
    insert into product_codes (code, batch_id, serial, product_id)
    select u.code, :batch, u.i, :product from unnest(:codes) with ordinality as u(code, i)
    on conflict (code) do nothing
    returning code""").bindparams(bindparam("codes", type_=ARRAY(String)))


def register(session: Session, *, sku: str, batch_no: str, actor: str, count: int | None = None,
             codes: list[str] | None = None) -> Registered:
    """A production batch's codes: `count` generated (BATCH-0000001-3FA2C1: the batch, the serial,
    and a random check part that makes codes hard to guess), or the `codes` printed elsewhere."""
    product_id = session.scalar(select(Product.id).where(Product.sku == sku))
    if product_id is None:
        raise CodeError([{"field": "sku", "message": f"unknown SKU {sku!r}"}], 404)
    if (count is None) == (codes is None):
        raise CodeError([{"field": "count", "message": "give either count (codes generated) or codes (a list)"}])
    if codes is not None:
        problems, first_at = [], {}
        for i, code in enumerate(codes):
            if (earlier := first_at.setdefault(code, i)) != i:
                problems.append({"index": i, "message": f"{code!r} is also at index {earlier}"})
        if problems:
            raise CodeError(problems[:MAX_PROBLEMS])
    n = count if count is not None else len(codes)
    batch_id = session.scalar(insert(CodeBatch).values(product_id=product_id, batch_no=batch_no, codes=n,
                                                       registered_by=actor)
                              .on_conflict_do_nothing(index_elements=["batch_no"]).returning(CodeBatch.id))
    if batch_id is None:
        raise CodeError([{"field": "batch_no", "message": f"batch {batch_no!r} is already registered"}], 409)
    if codes is None:
        width = max(7, len(str(count)))
        done = session.execute(_GENERATE, {"prefix": f"{batch_no.upper()}-", "width": width, "batch": batch_id,
                                           "product": product_id, "count": count}).rowcount
        if done != count:  # a listed code of another batch looks like one of ours: vanishingly rare
            raise CodeError([{"field": "count", "message": "a generated code equals a registered one: register the"
                                                           " batch again"}], 409)
        serials = (1, count)
    else:
        inserted = set(session.scalars(_LISTED, {"codes": codes, "batch": batch_id, "product": product_id}))
        if len(inserted) != len(codes):
            taken = [{"index": i, "message": f"{c!r} is already registered"}
                     for i, c in enumerate(codes) if c not in inserted]
            raise CodeError(taken[:MAX_PROBLEMS], 409)
        serials = (1, len(codes))
    first, last = session.execute(select(func.min(ProductCode.code).filter(ProductCode.serial == serials[0]),
                                         func.min(ProductCode.code).filter(ProductCode.serial == serials[1]))
                                  .where(ProductCode.batch_id == batch_id, ProductCode.serial.in_(serials))).one()
    return Registered(batch_no, sku, n, first, last)


# --- binding -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    dealer_code: str
    region: str
    order_id: str | None
    bound: int  # codes bound now
    unchanged: int  # codes already bound to this dealer (and order)


def bind(session: Session, *, actor: str, now: datetime, codes: list[str] | None = None,
         batch_no: str | None = None, first: int | None = None, last: int | None = None,
         order_id: uuid.UUID | None = None, dealer_code: str | None = None) -> Bound:
    """Bind codes (a list, or serials `first`..`last` of a batch) to the dealer that ships them — an
    order's dealer, or a dealer named by code — and its region. A code bound to this dealer (and
    order) already is left as it is; one bound elsewhere refuses the binding. With an order, the codes
    of each product may not outnumber the units ordered."""
    dealer, order = _target(session, order_id, dealer_code)
    if codes is not None:
        target = """select u.i - 1 as pos, u.code as wanted, c.* from unnest(:codes) with ordinality as u(code, i)
                    left join product_codes c on c.code = u.code"""
        params: dict = {"codes": codes}
        unit = "index"
    else:
        batch = session.scalars(select(CodeBatch).where(CodeBatch.batch_no == batch_no)).first()
        if batch is None:
            raise CodeError([{"field": "batch_no", "message": f"unknown batch {batch_no!r}"}], 404)
        if not 1 <= first <= last <= batch.codes:
            raise CodeError([{"field": "last", "message": f"serials run from 1 to {batch.codes} in batch {batch_no}"}])
        target = """select c.serial as pos, c.code as wanted, c.* from product_codes c
                    where c.batch_id = :batch and c.serial between :first and :last"""
        params = {"batch": batch.id, "first": first, "last": last}
        unit = "serial"
    params.update(dealer=dealer.id, order=str(order.id) if order else None, region=dealer.region, at=now)
    typed = [bindparam("codes", type_=ARRAY(String))] if codes is not None else []
    problems = session.execute(text(f"""
        with t as ({target})
        select t.pos, t.wanted, t.code is null as unknown, d.code as dealer, t.order_id
        from t left join dealers d on d.id = t.dealer_id
        where t.code is null or (t.dealer_id is not null and (t.dealer_id <> :dealer or (
            cast(:order as uuid) is not null and t.order_id is distinct from cast(:order as uuid))))
        order by t.pos limit :limit""").bindparams(*typed), {**params, "limit": MAX_PROBLEMS}).all()
    if problems:
        raise CodeError([{unit: p.pos, "message": f"unknown code {p.wanted!r}" if p.unknown else
                          f"{p.wanted} is already bound to dealer {p.dealer}"
                          + (f", order {p.order_id}" if p.order_id else "")} for p in problems],
                        422 if all(p.unknown for p in problems) else 409)
    if order is not None:
        _within_order(session, target, params, typed, order)
    done = session.execute(text(f"""
        with t as ({target})
        update product_codes c set dealer_id = :dealer, region = :region, order_id = cast(:order as uuid),
                                   bound_at = :at
        from t where c.code = t.code and c.dealer_id is null""").bindparams(*typed), params).rowcount
    total = session.execute(text(f"with t as ({target}) select count(*) from t").bindparams(*typed),
                            params).scalar_one()
    return Bound(dealer.code, dealer.region, str(order.id) if order else None, done, total - done)


def _target(session: Session, order_id: uuid.UUID | None, dealer_code: str | None):
    if order_id is None and dealer_code is None:
        raise CodeError([{"field": "order_id", "message": "give the order the codes ship with, or the dealer"}])
    order = None
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None:
            raise CodeError([{"field": "order_id", "message": f"unknown order {str(order_id)!r}"}], 404)
        if order.status not in BINDABLE:
            raise CodeError([{"field": "order_id", "message": f"order {order_id} is {order.status}: codes are"
                                                              f" bound to approved or shipped orders"}], 409)
    dealer = session.get(Dealer, order.dealer_id) if order else session.scalars(
        select(Dealer).where(Dealer.code == dealer_code)).first()
    if dealer is None:
        raise CodeError([{"field": "dealer", "message": f"unknown dealer {dealer_code!r}"}], 404)
    if order is not None and dealer_code is not None and dealer.code != dealer_code:
        raise CodeError([{"field": "dealer", "message": f"order {order_id} is dealer {dealer.code}'s, not"
                                                        f" {dealer_code}'s"}])
    return dealer, order


def _within_order(session: Session, target: str, params: dict, typed: list, order: Order) -> None:
    """Codes per product bound to the order (already, and now) against the units ordered."""
    rows = session.execute(text(f"""
        with t as ({target}),
        coded as (select product_id, count(*) as n from (
                      select product_id from product_codes where order_id = cast(:order as uuid)
                      union all select product_id from t where t.dealer_id is null) x group by product_id),
        ordered as (select product_id, sum(quantity) as n from order_lines where order_id = cast(:order as uuid)
                    group by product_id)
        select p.sku, c.n as coded, coalesce(o.n, 0) as ordered from coded c join products p on p.id = c.product_id
        left join ordered o on o.product_id = c.product_id where c.n > coalesce(o.n, 0) order by p.sku""")
        .bindparams(*typed), params).all()
    if rows:
        raise CodeError([{"field": "codes", "message": f"{r.coded} codes of {r.sku} for order {order.id}, which has "
                                                       f"{r.ordered} unit(s) of it"} for r in rows])


# --- tracing -----------------------------------------------------------------------------------------

MAX_TRACE_SCANS = 500


def trace(session: Session, code: str, *, dealer_id: int | None = None) -> dict | None:
    """The code's batch, product and binding, and its scans (newest first) with the alerts they
    raised. `dealer_id`: the dealer asking, who sees only codes it shipped. None: nothing to show."""
    row = session.execute(select(ProductCode, CodeBatch.batch_no, CodeBatch.created_at, Product.sku, Product.name,
                                 Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"))
                          .join(CodeBatch, CodeBatch.id == ProductCode.batch_id)
                          .join(Product, Product.id == ProductCode.product_id)
                          .outerjoin(Dealer, Dealer.id == ProductCode.dealer_id)
                          .where(ProductCode.code == code)).first()
    if dealer_id is not None and (row is None or row.ProductCode.dealer_id != dealer_id):
        return None
    scans = session.execute(select(Scan).where(Scan.code == code).order_by(Scan.scanned_at.desc())
                            .limit(MAX_TRACE_SCANS)).scalars().all()
    if row is None and not scans:
        return None
    alerts: dict[str, list] = {}
    if scans:
        for scan_id, trigger, case_id in session.execute(
                select(DiversionAlert.scan_id, DiversionAlert.trigger, DiversionAlert.case_id)
                .where(DiversionAlert.code == code, DiversionAlert.scan_id.in_([s.scan_id for s in scans]))):
            alerts.setdefault(scan_id, []).append({"trigger": trigger, "case_id": case_id})
    cases = session.execute(select(DiversionCase.id, DiversionCase.status, DiversionCase.severity)
                            .where(DiversionCase.id.in_({a["case_id"] for v in alerts.values() for a in v}))
                            .order_by(DiversionCase.id)).all() if alerts else []
    c = row.ProductCode if row else None
    return {
        "code": code, "registered": row is not None,
        "product": {"sku": row.sku, "name": row.name} if row else None,
        "batch": {"batch_no": row.batch_no, "serial": c.serial, "registered_at": row.created_at} if row else None,
        "binding": {"dealer_code": row.dealer_code, "dealer_name": row.dealer_name, "region": c.region,
                    "order_id": str(c.order_id) if c.order_id else None, "bound_at": c.bound_at}
        if c is not None and c.dealer_id is not None else None,
        "scans": [{"scan_id": s.scan_id, "region": s.region, "price": None if s.price is None else f"{s.price:.2f}",
                   "scanned_at": s.scanned_at, "kind": s.kind, "received_at": s.received_at,
                   "out_of_region": bool(c is not None and c.region and s.region != c.region),
                   "alerts": alerts.get(s.scan_id, [])} for s in scans],
        "cases": [{"id": i, "status": st, "severity": sev} for i, st, sev in cases],
    }
