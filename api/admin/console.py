"""Console pages of an administrator: rule files (read, compare, validate, deploy) and master data (dealers,
products, users, regions). HQ reads them; HQ deploys policy rule files only. Every change goes through
the services the JSON API uses (api/admin/rules.py, dealerflow/shared/master_data.py)."""
from __future__ import annotations

import math
import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from dealerflow.models import ROLES, Dealer, Product, User
from dealerflow.shared import master_data, rulebook
from policies_dsl import RuleFileError

from api import highlight
from api.admin import rules as rule_files
from api.admin.schemas import DealerCreate, DealerUpdate, ProductCreate, ProductUpdate, UserCreate
from api.deps import SessionDep
from api.pages import ConsoleUser, back, page, refusal, require
from api.scope import scoped

router = APIRouter(prefix="/console", include_in_schema=False)

READERS = ("admin", "hq")
PAGE_SIZE = 50
Text = Annotated[str, Form()]


# --- forms ---------------------------------------------------------------------------------------

def field_errors(e: Exception) -> dict[str, str]:
    """The message of each form field at fault, from a pydantic or a domain refusal."""
    if isinstance(e, ValidationError):
        return {str(x["loc"][0]) if x["loc"] else "": x["msg"] for x in reversed(e.errors())}
    if isinstance(e, DomainError):
        return {x["field"]: x["message"] for x in reversed(e.errors) if x.get("field")}
    return {}


def _model(model: type[BaseModel], form: dict, *, nullable=(), numbers=()) -> BaseModel:
    """A request model from a form: an empty optional field is none, a numeric choice a number."""
    data = {}
    for name in model.model_fields:
        if name not in form:
            continue
        value = form[name].strip() if isinstance(form[name], str) else form[name]
        if value == "" and name in nullable:
            value = None
        elif name in numbers and isinstance(value, str) and value.isdigit():
            value = int(value)
        data[name] = value
    return model.model_validate(data)


async def _read_form(request: Request) -> dict:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _pages(total: int, number: int) -> dict:
    return {"number": number, "count": max(1, math.ceil(total / PAGE_SIZE)), "total": total}


def _query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _see(path: str, **params) -> RedirectResponse:
    """`back` to a page with a query."""
    response = back(path)
    response.headers["location"] += "?" + _query(**params)
    return response


# --- rule files ----------------------------------------------------------------------------------

def _visible(session: Session, user: User, ruleset: str, kind: str) -> bool:
    """A ruleset is shown to who may deploy it: admins every one, HQ the policy rulesets."""
    return rule_files.may_deploy(session, user, ruleset, kind)


@router.get("/rules")
def rules_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    rows = [r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)]
    return page(request, "rules.html", user, rulesets=rows, form={}, max_size=rule_files.MAX_RULE_FILE)


def _history(session: Session, user: User, ruleset: str):
    versions = rulebook.history(session, ruleset)
    if not _visible(session, user, ruleset, versions[-1].kind):
        raise Forbidden(f"ruleset '{ruleset}' is a {versions[-1].kind} ruleset, which only an admin reads here")
    return versions


def _version(versions, number: int | None, field: str):
    if number is None:
        return versions[0]
    found = next((v for v in versions if v.version == number), None)
    if found is None:
        raise NotFound(f"version {number} has not been deployed", field=field)
    return found


@router.get("/rules/{ruleset}")
def rule_page(ruleset: str, request: Request, session: SessionDep, user: ConsoleUser, version: int | None = None,
              deployed: int | None = None):
    require(user, *READERS)
    versions = _history(session, user, ruleset)
    shown = _version(versions, version, "version")
    return page(request, "rule.html", user, ruleset=ruleset, versions=versions, shown=shown,
                lines=highlight.lines(shown.source), deployed=deployed,
                form={"filename": versions[0].filename}, max_size=rule_files.MAX_RULE_FILE)


@router.get("/rules/{ruleset}/diff")
def rule_diff_page(ruleset: str, request: Request, session: SessionDep, user: ConsoleUser,
                   old: int | None = None, new: int | None = None):
    require(user, *READERS)
    versions = _history(session, user, ruleset)
    newer = _version(versions, new, "new")
    older = _version(versions, old if old is not None else max(newer.version - 1, versions[-1].version), "old")
    return page(request, "rule_diff.html", user, ruleset=ruleset, versions=versions, old=older, new=newer,
                rows=highlight.diff(older.source, newer.source))


def _uploaded(upload: UploadFile | None) -> tuple[str | None, str | None]:
    """The text and name of an uploaded file, if one was chosen."""
    if upload is None or not upload.filename:
        return None, None
    data = upload.file.read(rule_files.MAX_RULE_FILE + 1)
    if len(data) > rule_files.MAX_RULE_FILE:
        raise Invalid(f"a rule file has at most {rule_files.MAX_RULE_FILE // 1024} KiB", field="upload")
    try:
        return data.decode("utf-8-sig"), upload.filename
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text", field="upload") from None


def _checked(request: Request, session: Session, user: User, text: str, filename: str, *, status: int = 200,
             confirm: bool = False, error: str | None = None):
    """The check page: the file highlighted with each error at its line, its tests, and (valid and the
    user's to deploy) the deploy button, or its confirmation with the difference to the active version."""
    examined = rule_files.examine(filename, text)
    rule_file = examined.rule_file
    active = None
    allowed = False
    if rule_file is not None:
        active = rulebook.active_version(session, rule_file.name)
        allowed = rule_files.may_deploy(session, user, rule_file.name, rule_file.kind)
    if not examined.valid and status == 200:
        status = 422
    return page(request, "rule_check.html", user, status, error=error, examined=examined, text=text,
                filename=filename, lines=highlight.lines(text, examined.errors), active=active, allowed=allowed,
                confirm=confirm and examined.valid and allowed,
                rows=highlight.diff(active.source, text) if confirm and active is not None else None)


@router.post("/rules/validate")
def validate_rule_file(request: Request, session: SessionDep, user: ConsoleUser, text: Text = "", filename: Text = "",
                       upload: Annotated[UploadFile | None, File()] = None):
    require(user, *READERS)
    form = {"text": text, "filename": filename}
    try:
        uploaded, name = _uploaded(upload)
        text = (uploaded if uploaded is not None else text).replace("\r\n", "\n")  # as a deploy from here stores it
        filename = filename.strip() or (f"rules/{name}" if name else "")
        if not text.strip():
            raise Invalid("paste the file's text or choose a file", field="text")
        if not filename:
            raise Invalid("name the file, e.g. rules/policies/<ruleset>.yaml", field="filename")
        if len(text.encode()) > rule_files.MAX_RULE_FILE:
            raise Invalid(f"a rule file has at most {rule_files.MAX_RULE_FILE // 1024} KiB", field="text")
        _check_filename(filename)
    except Invalid as e:
        message, status = refusal(e)
        return page(request, "rules.html", user, status, error=message, errors=field_errors(e), form=form,
                    rulesets=[r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)],
                    max_size=rule_files.MAX_RULE_FILE)
    return _checked(request, session, user, text, filename)


def _check_filename(filename: str) -> None:
    """The API's rule for a rule file's name."""
    if len(filename) > 255 or not re.fullmatch(rule_files.FILENAME_PATTERN, filename):
        raise Invalid("a file name of letters, digits, _ . / - ending in .yaml", field="filename")


@router.post("/rules/deploy")
def deploy_rule_file(request: Request, session: SessionDep, user: ConsoleUser, background: BackgroundTasks,
                     text: Text = "", filename: Text = "", confirm: Text = ""):
    """First the confirmation (what changes against the active version), then, confirmed, the deploy:
    the API's deploy, with its rights."""
    require(user, *READERS)
    text = text.replace("\r\n", "\n")  # as the check page showed it (a form sends CRLF)
    try:
        _check_filename(filename)
        if not text.strip():
            raise Invalid("nothing to deploy", field="text")
    except Invalid as e:
        message, status = refusal(e)
        return page(request, "rules.html", user, status, error=message, errors=field_errors(e), form={},
                    rulesets=[r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)],
                    max_size=rule_files.MAX_RULE_FILE)
    if confirm != "yes":
        return _checked(request, session, user, text, filename, confirm=True)
    try:
        result = rule_files.deploy_file(session, filename=filename, text=text, user=user, app=request.app.state,
                                        background=background)
    except (DomainError, RuleFileError) as e:
        session.rollback()
        message, status = refusal(e)
        return _checked(request, session, user, text, filename, status=status, error=message)
    return _see(f"/console/rules/{result.ruleset}", deployed=result.version)


# --- dealers -------------------------------------------------------------------------------------

DEALER_NULLABLE = ("parent_code", "account_manager")


def _dealer_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = master_data.filter_dealers(select(Dealer), search=params.get("q"), region=params.get("region"),
                                   tier=params.get("tier"), level=params.get("level"))
    q = scoped(q, user, Dealer.id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    pages = _pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(Dealer.code).limit(PAGE_SIZE).offset((pages["number"] - 1) * PAGE_SIZE)))
    query = {k: params.get(k) for k in ("q", "region", "tier", "level")}
    return page(request, "dealers.html", user, status, dealers=rows, pages=pages, params=query,
                link=lambda n: "/console/dealers?" + _query(**query, page=n), **master_data.dealer_choices(session),
                **{"form": {"level": "1", "rating": "C", "tier": "normal"}, "errors": {}, **context})


@router.get("/dealers")
def dealers_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None,
                 region: str | None = None, tier: str | None = None, level: str | None = None, page: int = 1):
    require(user, *READERS)
    params = {"q": (q or "").strip()[:100], "region": region or None, "tier": tier or None,
              "level": int(level) if level in ("1", "2") else None, "page": max(1, min(page, 10**6))}
    return _dealer_list(request, session, user, params)


@router.post("/dealers")
async def create_dealer(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await _read_form(request)
    sessions = request.app.state.sessions

    def create():
        with sessions() as session:
            try:
                body = _model(DealerCreate, form, nullable=DEALER_NULLABLE, numbers=("level", "overdue_days"))
                dealer = master_data.create_dealer(session, **body.model_dump())
                session.commit()
                return back(f"/console/dealers/{dealer.code}")
            except IntegrityError:
                session.rollback()
                e = Conflict(f"dealer {form.get('code')!r} already exists", field="code")
            except (ValidationError, DomainError) as caught:
                session.rollback()
                e = caught
            message, status = refusal(e)
            return _dealer_list(request, session, user, {"page": 1}, status, error=message, errors=field_errors(e),
                                form=form, creating=True)

    return await run_in_threadpool(create)


def _dealer_page(request: Request, session: Session, user: User, dealer: Dealer, status: int = 200, **context):
    values = master_data.dealer_values(session, dealer)
    children = list(session.scalars(select(Dealer).where(Dealer.parent_id == dealer.id).order_by(Dealer.code)))
    users = list(session.scalars(select(User).where(User.dealer_id == dealer.id).order_by(User.username)))
    form = {k: ("" if v is None else str(v)) for k, v in values.items()}
    return page(request, "dealer.html", user, status, dealer=dealer, values=values, children=children,
                dealer_users=users, **{"form": form, "expected": master_data.fingerprint(values), "errors": {},
                                       **context})


@router.get("/dealers/{code}")
def dealer_page(code: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _dealer_page(request, session, user, master_data.find_dealer(session, code))


@router.post("/dealers/{code}")
async def update_dealer(code: str, request: Request, user: ConsoleUser):
    """The edit form: every field as the form shows it, refused when the dealer has changed since."""
    require(user, "admin")
    form = await _read_form(request)
    sessions = request.app.state.sessions

    def update():
        with sessions() as session:
            try:
                body = _model(DealerUpdate, form, nullable=DEALER_NULLABLE, numbers=("level", "overdue_days"))
                master_data.update_dealer(session, code=code, changes=body.model_dump(exclude_unset=True),
                                          expected=form.get("expected") or None)
                session.commit()
                return back(f"/console/dealers/{code}")
            except (ValidationError, DomainError) as e:
                session.rollback()
                if isinstance(e, NotFound) and not e.errors:
                    raise
                message, status = refusal(e)
                dealer = master_data.find_dealer(session, code)
                return _dealer_page(request, session, user, dealer, status, error=message, errors=field_errors(e),
                                    form=form, expected=form.get("expected", ""), editing=True)

    return await run_in_threadpool(update)


# --- products ------------------------------------------------------------------------------------

def _product_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = master_data.filter_products(select(Product), search=params.get("q"), category=params.get("category"))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    pages = _pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(Product.sku).limit(PAGE_SIZE).offset((pages["number"] - 1) * PAGE_SIZE)))
    query = {k: params.get(k) for k in ("q", "category")}
    categories = list(session.scalars(select(Product.category).distinct().order_by(Product.category)))
    return page(request, "products.html", user, status, products=rows, pages=pages, params=query,
                categories=categories, link=lambda n: "/console/products?" + _query(**query, page=n),
                **{"form": {"category": "other"}, "errors": {}, **context})


@router.get("/products")
def products_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None,
                  category: str | None = None, page: int = 1):
    require(user, *READERS)
    return _product_list(request, session, user, {"q": (q or "").strip()[:100], "category": category or None,
                                                   "page": max(1, min(page, 10**6))})


@router.post("/products")
async def create_product(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await _read_form(request)
    sessions = request.app.state.sessions

    def create():
        with sessions() as session:
            try:
                body = _model(ProductCreate, form, nullable=("guide_price",))
                product = master_data.create_product(session, **body.model_dump())
                session.commit()
                return _see("/console/products", q=product.sku)
            except IntegrityError:
                session.rollback()
                e = Conflict(f"product {form.get('sku')!r} already exists", field="sku")
            except (ValidationError, DomainError) as caught:
                session.rollback()
                e = caught
            message, status = refusal(e)
            return _product_list(request, session, user, {"page": 1}, status, error=message, errors=field_errors(e),
                                 form=form, creating=True)

    return await run_in_threadpool(create)


def _product_page(request: Request, session: Session, user: User, product: Product, status: int = 200, **context):
    values = master_data.product_values(product)
    form = {k: ("" if v is None else str(v)) for k, v in values.items()}
    return page(request, "product.html", user, status, product=product,
                **{"form": form, "expected": master_data.fingerprint(values), "errors": {}, **context})


@router.get("/products/{sku}")
def product_page(sku: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return _product_page(request, session, user, master_data.find_product(session, sku))


@router.post("/products/{sku}")
async def update_product(sku: str, request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await _read_form(request)
    sessions = request.app.state.sessions

    def update():
        with sessions() as session:
            try:
                body = _model(ProductUpdate, form, nullable=("guide_price",))
                master_data.update_product(session, sku=sku, changes=body.model_dump(exclude_unset=True),
                                           expected=form.get("expected") or None)
                session.commit()
                return back(f"/console/products/{sku}")
            except (ValidationError, DomainError) as e:
                session.rollback()
                if isinstance(e, NotFound) and not e.errors:
                    raise
                message, status = refusal(e)
                return _product_page(request, session, user, master_data.find_product(session, sku), status,
                                     error=message, errors=field_errors(e), form=form,
                                     expected=form.get("expected", ""))

    return await run_in_threadpool(update)


# --- users and regions ---------------------------------------------------------------------------

def _user_list(request: Request, session: Session, user: User, params: dict, status: int = 200, **context):
    q = master_data.filter_users(select(User), search=params.get("q"), role=params.get("role"))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    pages = _pages(total, params.get("page", 1))
    rows = list(session.scalars(q.order_by(User.username).limit(PAGE_SIZE).offset((pages["number"] - 1) * PAGE_SIZE)))
    query = {k: params.get(k) for k in ("q", "role")}
    return page(request, "users.html", user, status, users=rows, pages=pages, params=query, roles=ROLES,
                role_options=[("", "")] + [(r, r) for r in ROLES],
                link=lambda n: "/console/users?" + _query(**query, page=n),
                **{"form": {}, "errors": {}, **context})


@router.get("/users")
def users_page(request: Request, session: SessionDep, user: ConsoleUser, q: str | None = None, role: str | None = None,
               page: int = 1):
    require(user, *READERS)
    return _user_list(request, session, user, {"q": (q or "").strip()[:100], "role": role if role in ROLES else None,
                                               "page": max(1, min(page, 10**6))})


@router.post("/users")
async def create_user(request: Request, user: ConsoleUser):
    require(user, "admin")
    form = await _read_form(request)
    sessions = request.app.state.sessions

    def create():
        with sessions() as session:
            try:
                body = _model(UserCreate, form, nullable=("dealer_code", "region"))
                created = master_data.create_user(session, **body.model_dump())
                session.commit()
                return _see("/console/users", q=created.username)
            except IntegrityError:
                session.rollback()
                e = Conflict(f"user {form.get('username')!r} already exists", field="username")
            except (ValidationError, DomainError) as caught:
                session.rollback()
                e = caught
            message, status = refusal(e)
            kept = {k: v for k, v in form.items() if k != "password"}  # a password is never sent back
            return _user_list(request, session, user, {"page": 1}, status, error=message, errors=field_errors(e),
                              form=kept, creating=True)

    return await run_in_threadpool(create)


@router.get("/regions")
def regions_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return page(request, "regions.html", user, regions=master_data.regions(session))
