"""Master data: dealers, products and users (admin)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import Dealer, Product, User
from dealerflow.core.security import check_password_policy, hash_password

from api.schemas import BIGINT
from api.errors import responses
from api.deps import AdminUser, CurrentUser, SessionDep, require_role
from api.scope import STAFF, scoped, sees_dealer
from api.admin.schemas import DealerCreate, DealerRead, ProductCreate, ProductRead, UserCreate, UserRead

router = APIRouter(prefix="/api/v1", tags=["master data"])


def _conflict(what: str):
    return Conflict(f"{what} already exists")


@router.post("/dealers", response_model=DealerRead, status_code=201, responses=responses(404, 409))
def create_dealer(body: DealerCreate, session: SessionDep, _: AdminUser):
    parent_id = None
    if body.parent_code:
        parent = session.scalars(select(Dealer).where(Dealer.code == body.parent_code)).first()
        if parent is None:
            raise Invalid(f"unknown dealer {body.parent_code!r}", field="parent_code")
        parent_id = parent.id
    if (body.level == 2) != (parent_id is not None):
        raise Invalid("a level-2 dealer needs a parent, level 1 none", field="parent_code")
    dealer = Dealer(**body.model_dump(exclude={"parent_code"}), parent_id=parent_id)
    session.add(dealer)
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"dealer {body.code!r}") from None
    return DealerRead.model_validate(dealer, from_attributes=True)


@router.get("/dealers", response_model=list[DealerRead])
def list_dealers(session: SessionDep, user: Annotated[User, require_role(*STAFF)], region: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=BIGINT)] = 0):
    """The dealers the caller may see (api/scope.py): staff only, each by their scope."""
    q = scoped(select(Dealer).order_by(Dealer.code).limit(limit).offset(offset), user, Dealer.id)
    if region:
        q = q.where(Dealer.region == region)
    return [DealerRead.model_validate(d, from_attributes=True) for d in session.scalars(q)]


@router.get("/dealers/{code}", response_model=DealerRead)
def get_dealer(code: str, session: SessionDep, user: CurrentUser):
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None or not sees_dealer(user, dealer):
        raise NotFound("dealer not found")
    return DealerRead.model_validate(dealer, from_attributes=True)


@router.post("/products", response_model=ProductRead, status_code=201, responses=responses(409))
def create_product(body: ProductCreate, session: SessionDep, _: AdminUser):
    product = Product(**body.model_dump())
    session.add(product)
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"product {body.sku!r}") from None
    return ProductRead.model_validate(product, from_attributes=True)


@router.get("/products", response_model=list[ProductRead])
def list_products(session: SessionDep, _: CurrentUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    return [ProductRead.model_validate(p, from_attributes=True)
            for p in session.scalars(select(Product).order_by(Product.sku).limit(limit))]


@router.post("/users", response_model=UserRead, status_code=201, responses=responses(404, 409))
def create_user(body: UserCreate, session: SessionDep, _: AdminUser):
    check_password_policy(body.password, username=body.username)
    dealer = None
    if body.role == "dealer":
        if not body.dealer_code:
            raise Invalid("required for a dealer user", field="dealer_code")
        dealer = session.scalars(select(Dealer).where(Dealer.code == body.dealer_code)).first()
        if dealer is None:
            raise Invalid(f"unknown dealer {body.dealer_code!r}", field="dealer_code")
    elif body.dealer_code:
        raise Invalid("only dealer users belong to a dealer", field="dealer_code")
    if (body.role == "region_manager") != (body.region is not None):
        raise Invalid("a region manager, and only one, has a region", field="region")
    user = User(username=body.username, password_hash=hash_password(body.password), role=body.role,
                dealer_id=dealer.id if dealer else None, region=body.region)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        raise _conflict(f"user {body.username!r}") from None
    return UserRead(username=user.username, role=user.role, dealer_code=dealer.code if dealer else None)
