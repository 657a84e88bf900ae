"""Anti-diversion: product codes (registered per production batch, bound at shipment, traced), scans
from stores, consumers and inspectors, and the investigation cases their alerts open. The
investigation itself is a human task, completed through /api/v1/tasks."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field, StringConstraints, model_validator

from api.schemas import BIGINT
from api.errors import responses
from api.uploads import read_upload
from dealerflow.core.errors import Conflict, DomainError, Invalid, NotFound, TooLarge
from dealerflow.diversion import codes as product_codes, scans
from sqlalchemy import select

from dealerflow.models import SCANNER_KINDS, Dealer, ProductCode, User

from api.diversion import temporal
from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep, require_role
from api.diversion.schemas import (CaseRead, CaseSummary, CodesBound, CodesRegistered, CodeTrace, ScansRecorded,
                                   SweepResult)
from api.diversion.views import case_list, case_read, visible_case
from api.scope import ALL_DEALERS, sees_dealer
from api.schemas import Strict

router = APIRouter(prefix="/api/v1", tags=["anti-diversion"])
Registrars = Annotated[User, require_role("admin", "hq")]
Shippers = Annotated[User, require_role("admin", "hq", "finance")]  # the warehouse's and the ERP's accounts
ScanSenders = Annotated[User, require_role("admin", "hq")]  # scan gateways (store apps, consumer pages)
Sweepers = Annotated[User, require_role("admin", "hq")]
MAX_JSON_SCANS = 50_000  # a larger batch travels as NDJSON or CSV, up to scans.MAX_UPLOAD
MAX_PROBLEMS = 1000  # invalid rows listed in an answer; the count is always complete
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")
CSV_TYPES = ("text/csv", "application/csv")
Batch = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


# --- codes -------------------------------------------------------------------------------------------

class CodeBatchCreate(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    batch_no: Batch
    count: Annotated[int | None, Field(ge=1, le=product_codes.MAX_GENERATED, strict=True,
                                       description="generate this many codes")] = None
    codes: Annotated[list[Token] | None, Field(min_length=1, max_length=product_codes.MAX_LISTED,
                                               description="or register these (printed elsewhere)")] = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.count is None) == (self.codes is None):
            raise ValueError("give either count (codes generated) or codes (a list)")
        return self


class CodeBind(Strict):
    codes: Annotated[list[Token] | None, Field(min_length=1, max_length=product_codes.MAX_LISTED)] = None
    batch_no: Batch | None = None
    first: Annotated[int | None, Field(ge=1, le=2**31 - 1, strict=True, description="first serial of the range, included")] = None
    last: Annotated[int | None, Field(ge=1, le=2**31 - 1, strict=True, description="last serial of the range, included")] = None
    order_id: uuid.UUID | None = None
    dealer: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] = None

    @model_validator(mode="after")
    def _one_selection(self):
        ranged = self.batch_no is not None and self.first is not None and self.last is not None
        if (self.codes is None) == (not ranged) or (self.codes is not None and self.batch_no is not None):
            raise ValueError("give either codes (a list) or batch_no with first and last (a range of serials)")
        if ranged and self.first > self.last:
            raise ValueError("first must not be after last")
        if self.order_id is None and self.dealer is None:
            raise ValueError("give the order the codes ship with (order_id), or the dealer")
        return self


def _refused(e: product_codes.CodeError) -> DomainError:
    return {404: NotFound, 409: Conflict}.get(e.status, Invalid).listing(e.problems)


@router.post("/codes/batches", response_model=CodesRegistered, status_code=201, responses=responses(404, 409))
def register_codes(body: CodeBatchCreate, session: SessionDep, user: Registrars):
    """A production batch's codes: `count` generated in the database (BATCH-0000001-3FA2C1), or the
    `codes` printed elsewhere. A batch number is registered once."""
    try:
        done = product_codes.register(session, sku=body.sku, batch_no=body.batch_no, count=body.count, codes=body.codes,
                              actor=user.username)
    except product_codes.CodeError as e:
        raise _refused(e) from None
    session.commit()
    return done.__dict__


@router.post("/codes/bind", response_model=CodesBound, responses=responses(404, 409))
def bind_codes(body: CodeBind, session: SessionDep, user: Shippers):
    """Codes leaving with an order (or for a dealer): bound to its dealer and the dealer's region, the
    region the goods may be sold in. A list, or serials `first`..`last` of a batch. All or nothing;
    codes already bound to this dealer and order stay as they are."""
    try:
        done = product_codes.bind(session, actor=user.username, now=datetime.now(timezone.utc), codes=body.codes,
                          batch_no=body.batch_no, first=body.first, last=body.last, order_id=body.order_id,
                          dealer_code=body.dealer)
    except product_codes.CodeError as e:
        raise _refused(e) from None
    session.commit()
    return done.__dict__


@router.get("/codes/{code:path}/trace", response_model=CodeTrace)
def trace(code: str, session: SessionDep, user: CurrentUser):
    """The code's batch and binding and every scan of it: a code bound to a dealer for those who may
    see that dealer (api/scope.py), one bound to none for staff who see every dealer."""
    if user.role not in ALL_DEALERS:
        bound = session.scalar(select(Dealer).join(ProductCode, ProductCode.dealer_id == Dealer.id)
                               .where(ProductCode.code == code))
        if bound is None or not sees_dealer(user, bound):
            raise NotFound("code not found")
    found = product_codes.trace(session, code, dealer_id=user.dealer_id if user.role == "dealer" else None)
    if found is None:
        raise NotFound("code not found")
    return found


# --- scans -------------------------------------------------------------------------------------------

_SCANS_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "maxItems": MAX_JSON_SCANS, "items": {
        "type": "object", "required": list(scans.REQUIRED),
        "properties": {"scan_id": {"type": "string"}, "code": {"type": "string"}, "region": {"type": "string"},
                       "price": {"type": "string", "description": "reported retail price, e.g. \"899.00\""},
                       "scanned_at": {"type": "string", "description": "ISO 8601 with offset"},
                       "kind": {"enum": list(SCANNER_KINDS)}}}}},
    "application/x-ndjson": {"schema": {"type": "string", "description": "one scan object per line"}},
    "text/csv": {"schema": {"type": "string", "description": "a header row: " + ", ".join(scans.FIELDS)}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


async def _rows(request: Request) -> tuple[list, list[int] | None, list]:
    """(rows, their lines or None for a JSON array, unreadable lines) from any accepted body."""
    upload = await read_upload(
        request, limit=scans.MAX_UPLOAD, accept=("application/json", "text/plain", *NDJSON_TYPES, *CSV_TYPES),
        hint="send a JSON array (application/json), NDJSON (application/x-ndjson), CSV (text/csv) or a "
             "multipart field 'file'")
    data, mime, name = upload.data, upload.media_type, upload.filename
    if mime == "application/json":
        try:
            rows = json.loads(data)
        except ValueError as e:
            raise Invalid(f"malformed JSON: {e}", field="body") from None
        except RecursionError:
            raise Invalid("malformed JSON: nested too deeply", field="body") from None
        if not isinstance(rows, list):
            raise Invalid("expected a JSON array of scans", field="body")
        if len(rows) > MAX_JSON_SCANS:
            raise TooLarge(f"{len(rows)} scans: at most {MAX_JSON_SCANS} in a JSON array; send more as NDJSON "
                           "or CSV")
        return rows, None, []
    # An object on the first line means NDJSON, unless the type or the file's name says which.
    looks_ndjson = data.lstrip()[:1] == b"{"
    ndjson = (mime in NDJSON_TYPES or name.endswith((".ndjson", ".jsonl"))
              or (mime not in CSV_TYPES and not name.endswith(".csv") and looks_ndjson))
    return (scans.read_ndjson if ndjson else scans.read_csv)(data)


@router.post("/scans", response_model=ScansRecorded, openapi_extra=_SCANS_BODY, responses=responses(413, 415))
async def record_scans(request: Request, user: ScanSenders, client: TemporalDep, settings: SettingsDep):
    """A batch of scans: a JSON array, NDJSON, or CSV (a body or the multipart field `file`, at most
    20 MB). Fields: scan_id (unique: a batch sent again is recorded once), code, region, price
    (optional, the reported retail price), scanned_at (ISO 8601 with offset), kind (store, consumer, sale or
    inspector). Not all or nothing: invalid rows come back by index (JSON) or line (NDJSON, CSV) with
    the reason; the valid ones are recorded. Alerts open or join investigation cases."""
    rows, lines, unreadable = await _rows(request)
    result = await temporal.record_scans(client=client, task_queue=settings.task_queue,
                                              sessions=request.app.state.sessions, rows=rows, lines=lines,
                                              unreadable=unreadable)
    shown = result.invalid[:MAX_PROBLEMS]
    return {"received": result.received, "accepted": result.accepted, "duplicates": result.duplicates,
            "invalid": len(result.invalid),
            "problems": [{result.unit: p.row, "field": p.field, "message": p.message} for p in shown]
            + ([{result.unit: None, "field": None, "message": f"… and {len(result.invalid) - len(shown)} more"}]
               if len(result.invalid) > len(shown) else []),
            "alerts": result.alerts, "cases_opened": [c.case_id for c in result.cases],
            "cases_joined": result.joined, "detection": result.detection}


# --- cases -------------------------------------------------------------------------------------------

@router.get("/cases", response_model=list[CaseSummary])
def list_cases(session: SessionDep, user: CurrentUser, region: str | None = None,
               status: Literal["open", "confirmed", "dismissed"] | None = None, dealer: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=BIGINT)] = 0):
    """Investigation cases, newest first, by region, status and dealer. A dealer sees its own."""
    return case_list(session, user, region=region, status=status, dealer=dealer, limit=limit, offset=offset)


@router.get("/cases/{case_id}", response_model=CaseRead)
def get_case(case_id: str, session: SessionDep, user: CurrentUser):
    """A case: its alerts (the newest), the rules' assessment, the investigation and its outcome."""
    case = visible_case(session, user, case_id)
    if case is None:
        raise NotFound("case not found")
    return case_read(session, case)


@router.post("/diversion/sweep", response_model=SweepResult)
async def sweep(user: Sweepers, client: TemporalDep, settings: SettingsDep):
    """Run the hourly sweep now: shipment patterns (regional excess, stock-up), points earned back for a
    clean quarter, and cases whose workflow never started."""
    result = await temporal.run_diversion_sweep(client=client, task_queue=settings.task_queue)
    return {"alerts": result.alerts, "cases": [c.case_id for c in result.cases], "earned_back": result.earned_back}
