"""What the API and the console share: recording a shipment (parcels stored, their workflows
started, then the commit), a tracking push, the dealer's receipt and a damage or shortage report
with photos."""
from __future__ import annotations


from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from dealerflow.contracts import ReportInput
from dealerflow.core.errors import Invalid, NotFound, TooLarge, Unsupported
from dealerflow.logistics import parcels as shipments, tracking
from dealerflow.logistics.providers import MAX_PUSH, provider as provider_named, providers
from dealerflow.models import Dealer, User
from dealerflow.shared.evidence import MB, EvidenceStore, EvidenceTooLarge, EvidenceTypeNotAllowed
from api.diversion.temporal import start_cases
from api.logistics import temporal
from api.logistics.schemas import ParcelRead
from api.logistics.views import parcel_reads, visible_parcel
from api.scope import parse_uuid
from api.uploads import check_declared_size, read_body, stream_form

MAX_REPORT = shipments.MAX_PHOTOS * 10 * MB + MB


async def record_shipment(request: Request, client: Client, user: User, *, order_id: str, carrier: str,
                          waybills: list[str], provider: str, shipped_at: datetime | None) -> list[ParcelRead]:
    settings, sessions = request.app.state.settings, request.app.state.sessions
    if provider not in providers(secrets=settings.logistics_secrets, secret_key=settings.secret_key):
        raise Invalid(f"unknown tracking provider {provider!r}", field="provider")
    session = sessions()
    try:
        def record():
            return shipments.record_shipment(
                session, order_id=parse_uuid(order_id), carrier=carrier, waybills=waybills, provider=provider,
                actor=user.username, shipped_at=shipped_at, receipt_delivers=settings.receipt_completes_delivery)
        recorded = await run_in_threadpool(record)
        dealer = await run_in_threadpool(session.get, Dealer, recorded.order.dealer_id)
        await temporal.start_shipments(client=client, task_queue=settings.task_queue, parcels=recorded.parcels,
                                       dealer=dealer, auto_confirm_seconds=settings.receipt_auto_confirm_seconds)
        await run_in_threadpool(session.commit)
        if recorded.replayed is not None:
            await _after_ingest(request, client, recorded.replayed)
        return await run_in_threadpool(parcel_reads, session, recorded.parcels, dealer.code)
    finally:
        await run_in_threadpool(session.close)


async def push(request: Request, client: Client, provider: str) -> tracking.Ingested:
    """A provider's push: its signature checked before anything is stored (401), its payload kept,
    its events applied; workflows told and diversion cases started after the commit."""
    settings, sessions = request.app.state.settings, request.app.state.sessions
    source = provider_named(provider, secrets=settings.logistics_secrets, secret_key=settings.secret_key)
    body = await read_body(request, limit=MAX_PUSH, what="the push")
    parsed = source.parse_push(request.headers, body)

    def ingest():
        with sessions.begin() as session:
            return tracking.ingest(session, parsed)

    result = await run_in_threadpool(ingest)
    if result.malformed:
        raise Invalid(f"RequestData: {result.malformed}", field="RequestData")
    await _after_ingest(request, client, result)
    return result


async def _after_ingest(request: Request, client: Client, result: tracking.Ingested) -> None:
    if result.tell:
        told = await temporal.tell(client=client, parcels=result.tell)
        if told:
            def mark():
                with request.app.state.sessions.begin() as session:
                    tracking.mark_told(session, told)
            await run_in_threadpool(mark)
    if result.cases:
        await start_cases(client=client, task_queue=request.app.state.settings.task_queue, cases=result.cases)


def _own_parcel(session, user: User, parcel_id: str):
    """A parcel of the dealer's own orders: only it confirms or reports (its parent sees, never acts)."""
    found = visible_parcel(session, user, parcel_id)
    if found is None or found[0].dealer_id != user.dealer_id:
        raise NotFound("parcel not found")
    return found


async def confirm_receipt(request: Request, client: Client, user: User, parcel_id: str) -> ParcelRead:
    sessions = request.app.state.sessions

    def find():
        with sessions() as session:
            return _own_parcel(session, user, parcel_id)[0]

    parcel = await run_in_threadpool(find)
    await temporal.confirm(client=client, parcel=parcel, actor=user.username)
    return await run_in_threadpool(read_parcel, sessions, user, parcel_id)


def read_parcel(sessions, user: User, parcel_id: str) -> ParcelRead:
    with sessions() as session:
        parcel, dealer = _own_parcel(session, user, parcel_id) if user.role == "dealer" else \
            visible_parcel(session, user, parcel_id)
        return parcel_reads(session, [parcel], dealer.code)[0]


@dataclass
class ReportForm:
    staged: list
    kind: str
    note: str


async def receive_report(request: Request, user: User, parcel_id: str) -> ReportForm:
    """The report form as it arrives: the declared size first, then that the parcel is the dealer's
    (404), then each photo streamed into the evidence store and checked (size, content type)."""
    sessions = request.app.state.sessions
    store = EvidenceStore(request.app.state.settings.evidence_path)
    check_declared_size(request, MAX_REPORT, "the upload")

    def visible():
        with sessions() as session:
            _own_parcel(session, user, parcel_id)

    await run_in_threadpool(visible)
    form = await stream_form(request, limit=MAX_REPORT, open_file=lambda _field, name: store.begin("photo", name),
                             file_fields=("photo",), max_files=shipments.MAX_PHOTOS)

    try:
        staged = await form.finish()
    except EvidenceTooLarge as e:
        raise TooLarge(str(e), field="photo") from None
    except EvidenceTypeNotAllowed as e:
        raise Unsupported(str(e), field="photo") from None
    return ReportForm(staged, form.fields.get("kind", "").strip(), form.fields.get("note", "").strip())


async def report_problem(request: Request, client: Client, user: User, parcel_id: str, form: ReportForm) -> ParcelRead:
    """Store the report, ask HQ through the parcel's workflow, then commit and keep the photos; on
    any refusal nothing is kept."""
    sessions = request.app.state.sessions
    store = EvidenceStore(request.app.state.settings.evidence_path)
    session = sessions()
    try:
        def record():
            parcel = _own_parcel(session, user, parcel_id)[0]
            session.refresh(parcel, with_for_update=True)
            report, spec = shipments.open_report(session, parcel=parcel, dealer_code=user.dealer.code,
                                                 kind=form.kind, note=form.note,
                                                 photos=[f for _, f in form.staged], actor=user.username)
            return parcel, report, spec

        parcel, report, spec = await run_in_threadpool(record)
        await temporal.report(client=client, parcel=parcel,
                              inp=ReportInput(str(report.id), str(parcel.id), user.username, spec))
        for path, stored in form.staged:
            store.keep(path, stored)
        await run_in_threadpool(session.commit)
    except BaseException:
        for path, _ in form.staged:
            store.discard(path)
        raise
    finally:
        await run_in_threadpool(session.close)
    return await run_in_threadpool(read_parcel, sessions, user, parcel_id)


