"""Master data's JSON API: dealers, products, users and regions — create, read, change (PATCH with
If-Match: a stale ETag is a 409), deactivate, lists with paging (X-Total-Count), search and filters,
each record's audit, and bulk import (dry run included) and export. The services are
dealerflow/masterdata/; the console's pages (api/masterdata/console.py) call the same."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import NotFound
from dealerflow.masterdata import audit, credit_limits, dealers, exports, imports, products, regions, users
from dealerflow.models import Dealer, Product, User
from dealerflow.shared.exports import MEDIA_TYPE, XLSX_TYPE
from dealerflow.shared.uploads import BatchError

from api.deps import AdminUser, CurrentUser, SessionDep, require_role
from api.errors import responses
from api.masterdata.schemas import (AuditRead, DealerCreate, DealerDeactivate, DealerRead, DealerUpdate,
                                    ImportResult, PasswordReset, PendingLimit, ProductCreate, ProductRead,
                                    ProductUpdate, RegionCreate, RegionRead, RegionUpdate, RowChangeRead, UserCreate,
                                    UserDetail, UserUpdate)
from api.masterdata.temporal import start_limit_change
from api.paging import count
from api.schemas import BIGINT
from api.scope import STAFF, scoped, sees_dealer
from api.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["master data"])

Readers = Annotated[User, require_role("admin", "hq")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=BIGINT)]
Search = Annotated[str | None, Query(max_length=100, description="part of the code or the name")]
Short = Annotated[str | None, Query(max_length=64)]
IfMatch = Annotated[str | None, Header(max_length=100, description="the ETag the change was made on: refused "
                                                                   "(409) when the record has changed since")]
MAX_PROBLEMS = 200


def _etag(value: str) -> str:
    return f'"{value}"'


def _expected(if_match: str | None) -> str | None:
    return if_match.strip().removeprefix("W/").strip('"') if if_match and if_match.strip() != "*" else None


def _audit(rows) -> list[AuditRead]:
    return [AuditRead(field=r.field, before=r.before, after=r.after, actor=r.actor, via=r.via, note=r.note, at=r.at)
            for r in rows]


# --- dealers ----------------------------------------------------------------------------------------

def dealer_read(session: Session, dealer: Dealer) -> DealerRead:
    values = dealers.values(session, dealer)
    pending = credit_limits.pending_for(session, dealer.id)
    return DealerRead(code=dealer.code, **values, pending_credit_limit=PendingLimit(
        id=str(pending.id), credit_limit=pending.new_limit, requested_by=pending.requested_by) if pending else None)


@router.post("/dealers", response_model=DealerRead, status_code=201, responses=responses(409, 503))
async def create_dealer(body: DealerCreate, request: Request, user: AdminUser, response: Response):
    """A new dealer. A credit limit above the credit rule file's threshold waits for a credit manager's
    approval (`pending_credit_limit`); until then the dealer's limit is 0."""
    read, tag = await create_dealer_with(request, user, body.model_dump(), via="api")
    response.headers["ETag"] = _etag(tag)
    return read


@router.get("/dealers", response_model=list[DealerRead])
def list_dealers(session: SessionDep, user: Annotated[User, require_role(*STAFF)], response: Response,
                 region: Short = None, q: Search = None, tier: Annotated[str | None, Query(max_length=32)] = None,
                 level: Literal[1, 2] | None = None, status: Literal["active", "suspended", "ended"] | None = None,
                 channel: Annotated[str | None, Query(max_length=32)] = None, account_manager: Short = None,
                 limit: Limit = 100, offset: Offset = 0):
    """The dealers the caller may see (api/scope.py): staff only, each by their scope. The total is in
    the X-Total-Count header."""
    query = scoped(dealers.filter(select(Dealer), search=q, region=region, tier=tier, level=level, status=status,
                                  channel=channel, account_manager=account_manager), user, Dealer.id)
    response.headers["X-Total-Count"] = str(count(session, query))
    return [dealer_read(session, d)
            for d in session.scalars(query.order_by(Dealer.code).limit(limit).offset(offset))]


def _visible_dealer(session: Session, user: User, code: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None or not sees_dealer(user, dealer):
        raise NotFound("dealer not found")
    return dealer


@router.get("/dealers/{code}", response_model=DealerRead, responses=responses(404))
def get_dealer(code: str, session: SessionDep, user: CurrentUser, response: Response):
    dealer = _visible_dealer(session, user, code)
    response.headers["ETag"] = _etag(dealers.etag(session, dealer))
    read = dealer_read(session, dealer)
    if user.role == "dealer":  # a raise waiting for approval is the manufacturer's business until decided
        read.pending_credit_limit = None
    return read


@router.patch("/dealers/{code}", response_model=DealerRead, responses=responses(404, 409, 503))
async def update_dealer(code: str, body: DealerUpdate, request: Request, user: AdminUser, response: Response,
                        if_match: IfMatch = None):
    """Change a dealer's fields. A credit limit raised above the credit rule file's threshold is not
    applied: it waits for a credit manager's approval (`pending_credit_limit`), the rest applies."""
    read, tag = await change_dealer(request, user, code, body.model_dump(exclude_unset=True), _expected(if_match),
                                    via="api")
    response.headers["ETag"] = _etag(tag)
    return read


async def change_dealer(request: Request, user: User, code: str, changes: dict, expected: str | None, *,
                        via: str) -> tuple[DealerRead, str]:
    """The one way a dealer is edited (API and console)."""
    return await _saved(request, lambda session: dealers.update(
        session, code=code, changes=changes, expected=expected, actor=user.username, via=via,
        threshold=credit_limits.threshold(session)))


async def create_dealer_with(request: Request, user: User, fields: dict, *, via: str) -> tuple[DealerRead, str]:
    """The one way a dealer is created (API and console)."""
    return await _saved(request, lambda session: dealers.create(
        session, **fields, actor=user.username, via=via, threshold=credit_limits.threshold(session)))


async def _saved(request: Request, work) -> tuple[DealerRead, str]:
    """`work(session)` (a dealers.Updated), then for a limit over the threshold the approval workflow
    started before the commit: if Temporal cannot be reached nothing is saved (503)."""
    sessions = request.app.state.sessions

    def change():
        session = sessions()
        try:
            return session, work(session)
        except BaseException:
            session.close()
            raise

    session, updated = await run_in_threadpool(change)
    try:
        if updated.limit_change is not None:
            await start_limit_change(client=request.app.state.temporal,
                                     task_queue=request.app.state.settings.task_queue, pending=updated.limit_change)

        def finish():
            session.commit()
            return dealer_read(session, updated.dealer), dealers.etag(session, updated.dealer)

        return await run_in_threadpool(finish)
    finally:
        await run_in_threadpool(session.close)


@router.post("/dealers/{code}/deactivate", response_model=DealerRead, responses=responses(404))
def deactivate_dealer(code: str, session: SessionDep, user: AdminUser, body: DealerDeactivate | None = None):
    """Suspend or end the cooperation (default: ended). The dealer and its history stay; it orders nothing."""
    dealer = dealers.deactivate(session, code=code, status=(body or DealerDeactivate()).status, actor=user.username)
    session.commit()
    return dealer_read(session, dealer)


@router.get("/dealers/{code}/audit", response_model=list[AuditRead], responses=responses(404))
def dealer_audit(code: str, session: SessionDep, _: Readers, response: Response, limit: Limit = 100,
                 offset: Offset = 0):
    """Every change of the dealer, newest first: field, before, after, who, when, how."""
    dealers.find(session, code)
    rows, total = audit.history(session, record_type="dealer", key=code, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return _audit(rows)


# --- products ---------------------------------------------------------------------------------------

def product_read(product: Product) -> ProductRead:
    return ProductRead.model_validate(product, from_attributes=True)


@router.post("/products", response_model=ProductRead, status_code=201, responses=responses(409))
def create_product(body: ProductCreate, session: SessionDep, user: AdminUser):
    product = products.create(session, **body.model_dump(), actor=user.username)
    session.commit()
    return product_read(product)


@router.get("/products", response_model=list[ProductRead])
def list_products(session: SessionDep, _: CurrentUser, response: Response, q: Search = None,
                  category: Annotated[str | None, Query(max_length=32)] = None, active: bool | None = None,
                  limit: Limit = 200, offset: Offset = 0):
    query = products.filter(select(Product), search=q, category=category, active=active)
    response.headers["X-Total-Count"] = str(count(session, query))
    return [product_read(p) for p in session.scalars(query.order_by(Product.sku).limit(limit).offset(offset))]


@router.get("/products/{sku}", response_model=ProductRead, responses=responses(404))
def get_product(sku: str, session: SessionDep, _: CurrentUser, response: Response):
    product = products.find(session, sku)
    response.headers["ETag"] = _etag(products.etag(product))
    return product_read(product)


@router.patch("/products/{sku}", response_model=ProductRead, responses=responses(404, 409))
def update_product(sku: str, body: ProductUpdate, session: SessionDep, user: AdminUser, response: Response,
                   if_match: IfMatch = None):
    """Change a product (orders keep the prices they were placed at)."""
    product = products.update(session, sku=sku, changes=body.model_dump(exclude_unset=True),
                              expected=_expected(if_match), actor=user.username)
    session.commit()
    response.headers["ETag"] = _etag(products.etag(product))
    return product_read(product)


@router.post("/products/{sku}/deactivate", response_model=ProductRead, responses=responses(404))
def deactivate_product(sku: str, session: SessionDep, user: AdminUser):
    """No longer sold: new orders of it are refused; it stays in past orders and reports."""
    product = products.deactivate(session, sku=sku, actor=user.username)
    session.commit()
    return product_read(product)


@router.get("/products/{sku}/audit", response_model=list[AuditRead], responses=responses(404))
def product_audit(sku: str, session: SessionDep, _: Readers, response: Response, limit: Limit = 100,
                  offset: Offset = 0):
    products.find(session, sku)
    rows, total = audit.history(session, record_type="product", key=sku, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return _audit(rows)


# --- users ------------------------------------------------------------------------------------------

def user_read(user: User) -> UserDetail:
    return UserDetail(username=user.username, **users.values(user))


@router.post("/users", response_model=UserDetail, status_code=201, responses=responses(409))
def create_user(body: UserCreate, session: SessionDep, user: AdminUser):
    created = users.create(session, **body.model_dump(), actor=user.username)
    session.commit()
    return user_read(created)


@router.get("/users", response_model=list[UserDetail])
def list_users(session: SessionDep, _: Readers, response: Response, q: Search = None,
               role: Annotated[str | None, Query(max_length=32)] = None, active: bool | None = None,
               limit: Limit = 100, offset: Offset = 0):
    query = users.filter(select(User), search=q, role=role, active=active)
    response.headers["X-Total-Count"] = str(count(session, query))
    return [user_read(u) for u in session.scalars(query.order_by(User.username).limit(limit).offset(offset))]


@router.get("/users/{username}", response_model=UserDetail, responses=responses(404))
def get_user(username: str, session: SessionDep, _: Readers, response: Response):
    found = users.find(session, username)
    response.headers["ETag"] = _etag(users.etag(found))
    return user_read(found)


@router.patch("/users/{username}", response_model=UserDetail, responses=responses(404, 409))
def update_user(username: str, body: UserUpdate, session: SessionDep, user: AdminUser, response: Response,
                if_match: IfMatch = None):
    """Change a user's role, dealer, region, name, phone or `active`; a role change or a deactivation
    ends its tokens."""
    changed = users.update(session, username=username, changes=body.model_dump(exclude_unset=True),
                           expected=_expected(if_match), actor=user.username)
    session.commit()
    response.headers["ETag"] = _etag(users.etag(changed))
    return user_read(changed)


@router.post("/users/{username}/password", response_model=UserDetail, responses=responses(404))
def reset_password(username: str, body: PasswordReset, session: SessionDep, user: AdminUser):
    """An administrator sets a new password (the password policy applies); audited, never stored in clear."""
    changed = users.reset_password(session, username=username, password=body.password, actor=user.username)
    session.commit()
    return user_read(changed)


@router.post("/users/{username}/deactivate", response_model=UserDetail, responses=responses(404))
def deactivate_user(username: str, session: SessionDep, user: AdminUser):
    """The user can no longer sign in and its tokens stop working at once."""
    changed = users.deactivate(session, username=username, actor=user.username)
    session.commit()
    return user_read(changed)


@router.get("/users/{username}/audit", response_model=list[AuditRead], responses=responses(404))
def user_audit(username: str, session: SessionDep, _: Readers, response: Response, limit: Limit = 100,
               offset: Offset = 0):
    users.find(session, username)
    rows, total = audit.history(session, record_type="user", key=username, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return _audit(rows)


# --- regions ----------------------------------------------------------------------------------------

def _region_reads(session: Session) -> list[RegionRead]:
    return [RegionRead(code=r.code, name=r.name, dealers=r.dealers, account_managers=r.assigned, listed=r.listed,
                       version=r.version)
            for r in regions.summaries(session)]


def _region_read(session: Session, code: str, response: Response) -> RegionRead:
    read = next(r for r in _region_reads(session) if r.code == code)
    response.headers["ETag"] = _etag(read.version)
    return read


@router.get("/regions", response_model=list[RegionRead])
def list_regions(session: SessionDep, _: Annotated[User, require_role(*STAFF)]):
    """Every region, with its dealers counted and the account managers assigned to it."""
    return _region_reads(session)


@router.post("/regions", response_model=RegionRead, status_code=201, responses=responses(409))
def create_region(body: RegionCreate, session: SessionDep, user: AdminUser, response: Response):
    regions.create(session, **body.model_dump(), actor=user.username)
    session.commit()
    return _region_read(session, body.code, response)


@router.patch("/regions/{code}", response_model=RegionRead, responses=responses(404, 409))
def update_region(code: str, body: RegionUpdate, session: SessionDep, user: AdminUser, response: Response,
                  if_match: IfMatch = None):
    """Rename a region or set its account managers (active users of that role). With If-Match (the
    region's `version`, its ETag): refused (409) when the region has changed since."""
    regions.update(session, code=code, changes=body.model_dump(exclude_unset=True), expected=_expected(if_match),
                   actor=user.username)
    session.commit()
    return _region_read(session, code, response)


@router.get("/regions/{code}/audit", response_model=list[AuditRead], responses=responses(404))
def region_audit(code: str, session: SessionDep, _: Readers, response: Response, limit: Limit = 100,
                 offset: Offset = 0):
    regions.find(session, code)
    rows, total = audit.history(session, record_type="region", key=code, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return _audit(rows)


# --- import and export ------------------------------------------------------------------------------

Kind = Literal["dealers", "products", "users"]
TABLE_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", XLSX_TYPE,
               "application/octet-stream")
_BODY = {"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}},
                                     XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                                     "multipart/form-data": {"schema": {
                                         "type": "object", "properties": {"file": {"type": "string",
                                                                                   "format": "binary"}}}}}}}


def refused(e: BatchError):
    from dealerflow.core.errors import Invalid
    detail = e.detail(MAX_PROBLEMS)
    if len(e.problems) > MAX_PROBLEMS:
        detail.append({e.unit: None, "field": None,
                       "message": f"… and {len(e.problems) - MAX_PROBLEMS} more problems not shown"})
    return Invalid.listing(detail)


def import_result(r: imports.Imported) -> ImportResult:
    return ImportResult(kind=r.kind, dry_run=r.dry_run, rows=r.rows, created=r.created, updated=r.updated,
                        unchanged=r.unchanged, changes=[RowChangeRead(line=c.line, key=c.key, action=c.action,
                                                                      fields=c.fields) for c in r.changes])


@router.post("/master-data/{kind}/import", response_model=ImportResult, openapi_extra=_BODY,
             responses=responses(413, 415))
async def import_table(kind: Kind, request: Request, user: AdminUser,
                       dry_run: Annotated[bool, Query(description="check and report what would change; "
                                                                  "write nothing")] = False,
                       encoding: Annotated[Literal["utf-8", "gb18030"], Query(
                           description="of a CSV file: UTF-8 (with or without BOM) or GB18030")] = "utf-8"):
    """A CSV or XLSX file (a body, or the multipart field `file`) with a header row of the export's
    columns, upserted by code (sku, username): all rows or none. 422 lists every problem by line and
    column; `dry_run` reports per row created / updated (with the fields) / unchanged."""
    upload = await read_upload(request, limit=imports.MAX_UPLOAD, accept=TABLE_TYPES,
                               hint="send a CSV or XLSX file as the body or as the multipart field 'file'")
    data = upload.data

    def run():
        with request.app.state.sessions() as session:
            result = imports.run(session, kind=kind, data=data, actor=user.username, dry_run=dry_run,
                                 encoding=encoding, via="import")
            if dry_run:
                session.rollback()
            else:
                session.commit()
            return result

    try:
        return import_result(await run_in_threadpool(run))
    except BatchError as e:
        raise refused(e) from None


@router.get("/master-data/{kind}/export", response_class=Response, responses={200: {"content": {
    "text/csv": {}, XLSX_TYPE: {}}}})
def export_table(kind: Kind, session: SessionDep, _: Readers,
                 format: Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8 with BOM) or xlsx")] = "csv"):
    """Every dealer, product or user in the import's columns: edit it in Excel and import it again."""
    data = exports.export(session, kind, format)
    return Response(data, media_type=XLSX_TYPE if format == "xlsx" else MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{kind}.{format}"'})
