"""Console pages of master data (admin edits, HQ reads): dealers, products, users and regions — lists
with search and filters, a page per record with its edit form and its audit, a user's password reset
and deactivation, regions with their account managers, and import (dry run first) and export of
dealers, products and users as CSV or XLSX. Every change goes through the services the JSON API uses
(dealerflow/masterdata/), with the same checks and the same audit."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError, Invalid, NotFound
from dealerflow.masterdata import audit, credit_limits, dealers, exports, imports, products, regions, users
from dealerflow.models import ROLES, Dealer, Product, RegionManager, User
from dealerflow.shared.exports import MEDIA_TYPE, XLSX_TYPE
from dealerflow.shared.uploads import BatchError

from api.deps import SessionDep
from api.forms import PAGE_SIZE, field_errors, model, pages, query, read_form, see
from api.masterdata.routes import change_dealer, create_dealer_with
from api.masterdata.schemas import (DealerCreate, DealerUpdate, PasswordReset, ProductCreate, ProductUpdate,
                                    RegionCreate, RegionUpdate, UserCreate, UserUpdate)
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.scope import scoped

router = APIRouter(prefix="/console", include_in_schema=False)

READERS = ("admin", "hq")
AUDIT_SHOWN = 50
DEALER_NULLABLE = ("parent_code", "account_manager", "legal_name", "province", "city", "contact_name",
                   "contact_phone", "contact_birthday", "cooperation_since")
DEALER_NUMBERS = ("level", "overdue_days", "payment_terms_days")


def _history(session: Session, record_type: str, key: str):
    return audit.history(session, record_type=record_type, key=key, limit=AUDIT_SHOWN)[0]


def _form_of(values: dict) -> dict:
    return {k: ("" if v is None else ",".join(v) if isinstance(v, list) else
                ("true" if v else "false") if isinstance(v, bool) else str(v)) for k, v in values.items()}


# --- dealers -------------------------------------------------------------------------------------

def _dealer_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = dealers.filter(select(Dealer), search=params.get("q"), region=params.get("region"), tier=params.get("tier"),
                       level=params.get("level"), status=params.get("status"), channel=params.get("channel"),
                       account_manager=params.get("account_manager"))
    q = scoped(q, user, Dealer.id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    shown = pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(Dealer.code).limit(PAGE_SIZE).offset((shown["number"] - 1) * PAGE_SIZE)))
    kept = {k: params.get(k) for k in ("q", "region", "tier", "level", "status", "channel", "account_manager")}
    return page(request, "dealers.html", user, status, dealers=rows, pages=shown, params=kept,
                link=lambda n: "/console/dealers?" + query(**kept, page=n), **dealers.choices(session),
                **{"form": {"level": "1", "rating": "C", "tier": "normal", "channel": "retail",
                            "payment_terms_days": "30"}, "errors": {}, **context})


@router.get("/dealers")
def dealers_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None,
                 region: str | None = None, tier: str | None = None, level: str | None = None,
                 status: str | None = None, channel: str | None = None, account_manager: str | None = None,
                 page: int = 1):
    require(user, *READERS)
    params = {"q": (q or "").strip()[:100], "region": region or None, "tier": tier or None,
              "level": int(level) if level in ("1", "2") else None,
              "status": status if status in dealers.STATUSES else None,
              "channel": channel if channel in dealers.CHANNELS else None,
              "account_manager": (account_manager or "").strip()[:64] or None, "page": max(1, min(page, 10**6))}
    return _dealer_list(request, session, user, params)


@router.post("/dealers")
async def create_dealer(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)
    _ = translator(request)
    try:
        body = model(DealerCreate, form, nullable=DEALER_NULLABLE, numbers=DEALER_NUMBERS, lists=("tags",))
        read, _tag = await create_dealer_with(request, user, body.model_dump(), via="console")
    except (ValidationError, DomainError) as e:
        message, status = refusal(e, request)
        errors = field_errors(e)  # `e` is gone once the except block ends

        def again():
            with request.app.state.sessions() as session:
                return _dealer_list(request, session, user, {"page": 1}, status, error=message,
                                    errors=errors, form=form, creating=True)
        return await run_in_threadpool(again)
    if read.pending_credit_limit is not None:
        return back(f"/console/dealers/{read.code}", flash=_(
            "Saved. The credit limit of %(limit)s waits for a credit manager's approval.",
            limit=f"{read.pending_credit_limit.credit_limit:.2f}"))
    return back(f"/console/dealers/{read.code}")


def _dealer_page(request: Request, session: Session, user: User, dealer: Dealer, status: int = 200, **context):
    values = dealers.values(session, dealer)
    children = list(session.scalars(select(Dealer).where(Dealer.parent_id == dealer.id).order_by(Dealer.code)))
    members = list(session.scalars(select(User).where(User.dealer_id == dealer.id).order_by(User.username)))
    return page(request, "dealer.html", user, status, dealer=dealer, values=values, children=children,
                dealer_users=members, history=_history(session, "dealer", dealer.code),
                limit_changes=credit_limits.changes(session, dealer.id), threshold=credit_limits.threshold(session),
                statuses=dealers.STATUSES, channels=dealers.CHANNELS,
                **{"form": _form_of(values), "expected": dealers.etag(session, dealer), "errors": {}, **context})


@router.get("/dealers/{code}")
def dealer_page(code: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _dealer_page(request, session, user, dealers.find(session, code))


@router.post("/dealers/{code}")
async def update_dealer(code: str, request: Request, user: ConsoleUser):
    """The edit form: every field as the form shows it, refused when the dealer has changed since. A
    credit limit raised above the threshold waits for a credit manager's approval."""
    require(user, "admin")
    form = await read_form(request)
    _ = translator(request)
    try:
        body = model(DealerUpdate, form, nullable=DEALER_NULLABLE, numbers=DEALER_NUMBERS, lists=("tags",))
        read, _tag = await change_dealer(request, user, code, body.model_dump(exclude_unset=True),
                                         form.get("expected") or None, via="console")
    except (ValidationError, DomainError) as e:
        if isinstance(e, NotFound) and not e.errors:
            raise
        message, status = refusal(e, request)
        errors = field_errors(e)  # `e` is gone once the except block ends

        def again():
            with request.app.state.sessions() as session:
                return _dealer_page(request, session, user, dealers.find(session, code), status, error=message,
                                    errors=errors, form=form, expected=form.get("expected", ""),
                                    editing=True)
        return await run_in_threadpool(again)
    if read.pending_credit_limit is not None:
        return back(f"/console/dealers/{code}", flash=_(
            "Saved. The credit limit of %(limit)s waits for a credit manager's approval.",
            limit=f"{read.pending_credit_limit.credit_limit:.2f}"))
    return back(f"/console/dealers/{code}", flash=_("Saved."))


# --- products ------------------------------------------------------------------------------------

def _product_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = products.filter(select(Product), search=params.get("q"), category=params.get("category"),
                        active=params.get("active"))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    shown = pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(Product.sku).limit(PAGE_SIZE).offset((shown["number"] - 1) * PAGE_SIZE)))
    kept = {"q": params.get("q"), "category": params.get("category"),
            "active": {True: "true", False: "false"}.get(params.get("active"))}
    categories = list(session.scalars(select(Product.category).distinct().order_by(Product.category)))
    return page(request, "products.html", user, status, products=rows, pages=shown, params=kept,
                categories=categories, link=lambda n: "/console/products?" + query(**kept, page=n),
                **{"form": {"category": "other", "unit": "件", "pack_size": "1"}, "errors": {}, **context})


@router.get("/products")
def products_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None,
                  category: str | None = None, active: str | None = None, page: int = 1):
    require(user, *READERS)
    return _product_list(request, session, user, {
        "q": (q or "").strip()[:100], "category": category or None,
        "active": {"true": True, "false": False}.get(active or ""), "page": max(1, min(page, 10**6))})


@router.post("/products")
async def create_product(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)
    sessions = request.app.state.sessions

    def create():
        with sessions() as session:
            try:
                body = model(ProductCreate, form, nullable=("guide_price",), numbers=("pack_size",))
                product = products.create(session, **body.model_dump(), actor=user.username, via="console")
                session.commit()
                return see("/console/products", q=product.sku)
            except (ValidationError, DomainError) as e:
                session.rollback()
                message, status = refusal(e)
                return _product_list(request, session, user, {"page": 1}, status, error=message,
                                     errors=field_errors(e), form=form, creating=True)

    return await run_in_threadpool(create)


def _product_page(request: Request, session: Session, user: User, product: Product, status: int = 200, **context):
    values = products.values(product)
    return page(request, "product.html", user, status, product=product, history=_history(session, "product",
                                                                                           product.sku),
                **{"form": _form_of(values), "expected": products.etag(product), "errors": {}, **context})


@router.get("/products/{sku}")
def product_page(sku: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _product_page(request, session, user, products.find(session, sku))


@router.post("/products/{sku}")
async def update_product(sku: str, request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)
    sessions = request.app.state.sessions
    _ = translator(request)

    def update():
        with sessions() as session:
            try:
                body = model(ProductUpdate, form, nullable=("guide_price",), numbers=("pack_size",),
                             flags=("active",))
                products.update(session, sku=sku, changes=body.model_dump(exclude_unset=True),
                                expected=form.get("expected") or None, actor=user.username, via="console")
                session.commit()
                return back(f"/console/products/{sku}", flash=_("Saved."))
            except (ValidationError, DomainError) as e:
                session.rollback()
                if isinstance(e, NotFound) and not e.errors:
                    raise
                message, status = refusal(e)
                return _product_page(request, session, user, products.find(session, sku), status,
                                     error=message, errors=field_errors(e), form=form,
                                     expected=form.get("expected", ""))

    return await run_in_threadpool(update)


# --- users ---------------------------------------------------------------------------------------

def _user_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = users.filter(select(User), search=params.get("q"), role=params.get("role"), active=params.get("active"))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    shown = pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(User.username).limit(PAGE_SIZE).offset((shown["number"] - 1) * PAGE_SIZE)))
    kept = {"q": params.get("q"), "role": params.get("role"),
            "active": {True: "true", False: "false"}.get(params.get("active"))}
    return page(request, "users.html", user, status, users=rows, pages=shown, params=kept, roles=ROLES,
                role_options=[("", "")] + [(r, r) for r in ROLES],
                link=lambda n: "/console/users?" + query(**kept, page=n),
                **{"form": {}, "errors": {}, **context})


@router.get("/users")
def users_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None, role: str | None = None,
               active: str | None = None, page: int = 1):
    require(user, *READERS)
    return _user_list(request, session, user, {"q": (q or "").strip()[:100], "role": role if role in ROLES else None,
                                               "active": {"true": True, "false": False}.get(active or ""),
                                               "page": max(1, min(page, 10**6))})


@router.post("/users")
async def create_user(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)
    sessions = request.app.state.sessions

    def create():
        with sessions() as session:
            try:
                body = model(UserCreate, form, nullable=("dealer_code", "region", "display_name", "phone"))
                created = users.create(session, **body.model_dump(), actor=user.username, via="console")
                session.commit()
                return see("/console/users", q=created.username)
            except (ValidationError, DomainError) as e:
                session.rollback()
                message, status = refusal(e)
                kept = {k: v for k, v in form.items() if k != "password"}  # a password is never sent back
                return _user_list(request, session, user, {"page": 1}, status, error=message,
                                  errors=field_errors(e), form=kept, creating=True)

    return await run_in_threadpool(create)


def _user_page(request: Request, session: Session, user: User, shown: User, status: int = 200, **context):
    values = users.values(shown)
    served = list(session.scalars(select(RegionManager.region_code).where(RegionManager.user_id == shown.id)
                                  .order_by(RegionManager.region_code)))
    dealt = session.scalar(select(func.count()).where(Dealer.account_manager == shown.username))
    return page(request, "user.html", user, status, shown=shown, values=values, served=served, dealt=dealt,
                history=_history(session, "user", shown.username),
                role_options=[(r, r) for r in ROLES],
                **{"form": _form_of(values), "expected": users.etag(shown), "errors": {}, **context})


@router.get("/users/{username}")
def user_page(username: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _user_page(request, session, user, users.find(session, username))


def _user_change(request: Request, user: User, username: str, form: dict, change):
    """Run `change(session)`; on a refusal the user's page again with the message at its field."""
    with request.app.state.sessions() as session:
        try:
            change(session)
            session.commit()
            return back(f"/console/users/{username}", flash=translator(request)("Saved."))
        except (ValidationError, DomainError) as e:
            session.rollback()
            if isinstance(e, NotFound) and not e.errors:
                raise
            message, status = refusal(e)
            kept = {k: v for k, v in form.items() if k != "password"}
            return _user_page(request, session, user, users.find(session, username), status, error=message,
                              errors=field_errors(e), form=kept, expected=form.get("expected", ""))


@router.post("/users/{username}")
async def update_user(username: str, request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)

    def change(session):
        body = model(UserUpdate, form, nullable=("dealer_code", "region", "display_name", "phone"),
                     flags=("active",))
        users.update(session, username=username, changes=body.model_dump(exclude_unset=True),
                     expected=form.get("expected") or None, actor=user.username, via="console")

    return await run_in_threadpool(_user_change, request, user, username, form, change)


@router.post("/users/{username}/password")
async def reset_password(username: str, request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await read_form(request)

    def change(session):
        body = model(PasswordReset, form)
        users.reset_password(session, username=username, password=body.password, actor=user.username,
                             via="console")

    return await run_in_threadpool(_user_change, request, user, username, form, change)


# --- regions -------------------------------------------------------------------------------------

def _regions_page(request: Request, session: Session, user: User, status: int = 200, **context):
    managers = list(session.scalars(select(User.username).where(User.role == "account_manager",
                                                                 User.active.is_(True)).order_by(User.username)))
    return page(request, "regions.html", user, status, regions=regions.summaries(session), managers=managers,
                **{"form": {}, "errors": {}, **context})


@router.get("/regions")
def regions_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _regions_page(request, session, user)


async def _region_form(request: Request, user: User, change):
    require(user, "admin")
    form = await read_form(request)
    raw = await request.form()
    form["account_managers"] = ",".join(v for v in raw.getlist("account_managers") if isinstance(v, str))

    def run():
        with request.app.state.sessions() as session:
            try:
                change(session, form)
                session.commit()
                return back("/console/regions", flash=translator(request)("Saved."))
            except (ValidationError, DomainError) as e:
                session.rollback()
                if isinstance(e, NotFound) and not e.errors:
                    raise
                message, status = refusal(e)
                return _regions_page(request, session, user, status, error=message, errors=field_errors(e),
                                     form=form)

    return await run_in_threadpool(run)


@router.post("/regions")
async def create_region(request: Request, user: ConsoleUser):
    def change(session, form):
        body = model(RegionCreate, form, lists=("account_managers",))
        regions.create(session, **body.model_dump(), actor=user.username, via="console")
    return await _region_form(request, user, change)


@router.post("/regions/{code}")
async def update_region(code: str, request: Request, user: ConsoleUser):
    def change(session, form):
        body = model(RegionUpdate, form, lists=("account_managers",))
        regions.update(session, code=code, changes=body.model_dump(exclude_unset=True),
                       expected=form.get("expected") or None, actor=user.username, via="console")
    return await _region_form(request, user, change)


# --- import and export ---------------------------------------------------------------------------

@router.get("/master-data")
def transfer_page(request: Request, user: ConsoleUser):
    require(user, *READERS)
    return page(request, "master_data.html", user, form={"kind": "dealers", "encoding": "utf-8"}, errors={},
                kinds=imports.KINDS, columns=imports.EXPORT_COLUMNS, max_mb=imports.MAX_UPLOAD // (1024 * 1024))


@router.post("/master-data/import")
async def import_file(request: Request, user: ConsoleUser, kind: Annotated[str, Form()] = "dealers",
                      encoding: Annotated[str, Form()] = "utf-8", apply: Annotated[str, Form()] = "",
                      upload: Annotated[UploadFile | None, File()] = None):
    """First a dry run: every row with what it would do; then, confirmed, the import itself (the same
    file, sent again), all rows or none."""
    require(user, "admin")
    form = {"kind": kind, "encoding": encoding}
    context = dict(kinds=imports.KINDS, columns=imports.EXPORT_COLUMNS, max_mb=imports.MAX_UPLOAD // (1024 * 1024))
    try:
        if kind not in imports.KINDS:
            raise Invalid("choose dealers, products or users", field="kind")
        if encoding not in ("utf-8", "gb18030"):
            raise Invalid("UTF-8 or GB18030", field="encoding")
        if upload is None or not upload.filename:
            raise Invalid("choose a CSV or XLSX file", field="upload")
        data = await upload.read(imports.MAX_UPLOAD + 1)
        if len(data) > imports.MAX_UPLOAD:
            raise Invalid(f"a file has at most {imports.MAX_UPLOAD // (1024 * 1024)} MB: split it", field="upload")
    except Invalid as e:
        message, status = refusal(e, request)
        return page(request, "master_data.html", user, status, error=message, errors=field_errors(e), form=form,
                    **context)
    dry_run = apply != "yes"

    def run():
        with request.app.state.sessions() as session:
            result = imports.run(session, kind=kind, data=data, actor=user.username, dry_run=dry_run,
                                 encoding=encoding, via="import")
            session.rollback() if dry_run else session.commit()
            return result

    try:
        result = await run_in_threadpool(run)
    except BatchError as e:
        _ = translator(request)
        return page(request, "master_data.html", user, 422, form=form, errors={}, problems=e.problems,
                    error=_("Nothing was imported: %(count)s problem(s), listed below.", count=len(e.problems)),
                    **context)
    except DomainError as e:
        message, status = refusal(e, request)
        return page(request, "master_data.html", user, status, error=message, errors={"upload": message},
                    form=form, **context)
    return page(request, "master_data.html", user, form=form, errors={}, result=result, **context)


@router.get("/master-data/{kind}/export")
def export_file(kind: str, request: Request, session: SessionDep, user: ConsoleUser, format: str = "csv"):
    require(user, *READERS)
    if kind not in imports.KINDS or format not in ("csv", "xlsx"):
        raise NotFound("no such export")
    return Response(exports.export(session, kind, format), media_type=XLSX_TYPE if format == "xlsx" else MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{kind}.{format}"'})
