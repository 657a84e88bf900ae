"""Master data: dealers, products and users (admin). The services are dealerflow/shared/master_data.py;
the console's pages (api/admin/console.py) call the same."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dealerflow.core.errors import Conflict, NotFound
from dealerflow.models import Dealer, Product, User
from dealerflow.shared import master_data

from api.schemas import BIGINT
from api.errors import responses
from api.deps import AdminUser, CurrentUser, SessionDep, require_role
from api.scope import STAFF, scoped, sees_dealer
from api.admin.schemas import (DealerCreate, DealerRead, DealerUpdate, ProductCreate, ProductRead, ProductUpdate,
                               UserCreate, UserRead)

router = APIRouter(prefix="/api/v1", tags=["master data"])


def _conflict(what: str):
    return Conflict(f"{what} already exists")


@router.post("/dealers", response_model=DealerRead, status_code=201, responses=responses(404, 409))
def create_dealer(body: DealerCreate, session: SessionDep, _: AdminUser):
    dealer = master_data.create_dealer(session, **body.model_dump())
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"dealer {body.code!r}") from None
    return DealerRead.model_validate(dealer, from_attributes=True)


@router.get("/dealers", response_model=list[DealerRead])
def list_dealers(session: SessionDep, user: Annotated[User, require_role(*STAFF)], region: str | None = None,
                 q: Annotated[str | None, Query(max_length=100, description="part of the code or the name")] = None,
                 tier: Annotated[str | None, Query(max_length=32)] = None, level: Literal[1, 2] | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=BIGINT)] = 0):
    """The dealers the caller may see (api/scope.py): staff only, each by their scope."""
    query = master_data.filter_dealers(select(Dealer).order_by(Dealer.code).limit(limit).offset(offset),
                                       search=q, region=region, tier=tier, level=level)
    return [DealerRead.model_validate(d, from_attributes=True) for d in session.scalars(scoped(query, user, Dealer.id))]


@router.get("/dealers/{code}", response_model=DealerRead)
def get_dealer(code: str, session: SessionDep, user: CurrentUser, response: Response):
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None or not sees_dealer(user, dealer):
        raise NotFound("dealer not found")
    response.headers["ETag"] = _etag(master_data.dealer_values(session, dealer))
    return DealerRead.model_validate(dealer, from_attributes=True)


def _etag(values: dict) -> str:
    return f'"{master_data.fingerprint(values)}"'


def _expected(if_match: str | None) -> str | None:
    return if_match.strip().removeprefix("W/").strip('"') if if_match and if_match.strip() != "*" else None


IfMatch = Annotated[str | None, Header(max_length=100, description="the ETag the change was made on: refused "
                                                                   "(409) when the record has changed since")]


@router.patch("/dealers/{code}", response_model=DealerRead, responses=responses(404, 409))
def update_dealer(code: str, body: DealerUpdate, session: SessionDep, _: AdminUser, response: Response,
                  if_match: IfMatch = None):
    """Change a dealer's fields (those of its creation, less its code)."""
    dealer = master_data.update_dealer(session, code=code, changes=body.model_dump(exclude_unset=True),
                                       expected=_expected(if_match))
    values = master_data.dealer_values(session, dealer)
    session.commit()
    response.headers["ETag"] = _etag(values)
    return DealerRead.model_validate(dealer, from_attributes=True)


@router.post("/products", response_model=ProductRead, status_code=201, responses=responses(409))
def create_product(body: ProductCreate, session: SessionDep, _: AdminUser):
    product = master_data.create_product(session, **body.model_dump())
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"product {body.sku!r}") from None
    return ProductRead.model_validate(product, from_attributes=True)


@router.get("/products", response_model=list[ProductRead])
def list_products(session: SessionDep, _: CurrentUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    return [ProductRead.model_validate(p, from_attributes=True)
            for p in session.scalars(select(Product).order_by(Product.sku).limit(limit))]


@router.patch("/products/{sku}", response_model=ProductRead, responses=responses(404, 409))
def update_product(sku: str, body: ProductUpdate, session: SessionDep, _: AdminUser, response: Response,
                   if_match: IfMatch = None):
    """Change a product's name, category or prices (orders keep the prices they were placed at)."""
    product = master_data.update_product(session, sku=sku, changes=body.model_dump(exclude_unset=True),
                                         expected=_expected(if_match))
    values = master_data.product_values(product)
    session.commit()
    response.headers["ETag"] = _etag(values)
    return ProductRead.model_validate(product, from_attributes=True)


@router.post("/users", response_model=UserRead, status_code=201, responses=responses(404, 409))
def create_user(body: UserCreate, session: SessionDep, _: AdminUser):
    user = master_data.create_user(session, **body.model_dump())
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"user {body.username!r}") from None
    return UserRead(username=user.username, role=user.role, dealer_code=body.dealer_code)
