"""Tracking ingest: a provider's push or poll answer in, set-based, in the caller's transaction.

The payload is kept as it came (append-only); each track is matched to its parcel by carrier and
waybill; its events are normalised to states and inserted once (unique on parcel, time, state and
the digest of text and place: a push repeating the whole track adds only what is new); a parcel
takes the state of its latest event and, when first signed, its signing place — which, outside the
dealer's province or city, raises a diversion alert. A track of an unknown waybill is kept as
unmatched (counted, listed for HQ) and replayed when a parcel with that waybill is recorded."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts import CaseStart, SignedParcel
from dealerflow.diversion import cases as diversion
from dealerflow.logistics import places
from dealerflow.logistics.normalise import state_of
from dealerflow.logistics.providers import Event, Push, Subscribed, Track, read_tracks
from dealerflow.models import Dealer, Parcel, TrackingPayload, UnmatchedWaybill

TRIGGER = "signed_outside_region"
# A parcel is polled until signed or returned, for at most this long after shipping.
POLL_FOR = timedelta(days=30)
POLL_BATCH = 500


@dataclass
class Ingested:
    payload_id: int
    tracks: int = 0
    events: int = 0  # events received
    new: int = 0  # events stored (the rest were known)
    unmatched: list[str] = field(default_factory=list)  # waybills no parcel has
    tell: list[SignedParcel] = field(default_factory=list)  # workflows to tell (signed, returned)
    alerts: int = 0
    cases: list[CaseStart] = field(default_factory=list)  # their workflows start after the commit
    malformed: str | None = None
    problems: list = field(default_factory=list)


def digest(event_text: str, place: str) -> str:
    return hashlib.md5(f"{event_text}\x1f{place}".encode()).hexdigest()


def store_payload(session: Session, *, provider: str, source: str, body: str) -> int:
    return session.execute(insert(TrackingPayload).values(provider=provider, source=source, body=body)
                           .returning(TrackingPayload.id)).scalar_one()


# One statement a push: the payload is kept; the tracks are matched to their parcels by carrier and
# waybill; the new events are inserted; each parcel takes the state of its latest event (a signed
# parcel stays signed unless it is returned; an event older than the latest changes nothing); a first
# signing sets the signing time and place. Returns the parcels that changed, the waybills no parcel
# has (with their events' count), and the payload's id with the number of new events.
_PAYLOAD_NEW = """insert into tracking_payloads (provider, source, body) values (:provider, :source, :body)
                  returning id"""
_PAYLOAD_KEPT = "select cast(:payload_id as bigint) as id"
_APPLY = """
    with payload as ({payload}),
    k as (select * from unnest(cast(:kcarriers as text[]), cast(:kwaybills as text[])) as k(carrier, waybill)),
    m as (select k.carrier, k.waybill, p.id
          from k left join parcels p on p.carrier = k.carrier and p.waybill = k.waybill),
    v as (
        select * from unnest(cast(:carriers as text[]), cast(:waybills as text[]), cast(:ats as timestamptz[]),
                             cast(:states as text[]), cast(:codes as text[]), cast(:texts as text[]),
                             cast(:places as text[]), cast(:digests as text[]))
            as v(carrier, waybill, at, state, code, text, place, digest)),
    ins as (
        insert into tracking_events (parcel_id, at, state, code, text, place, digest, payload_id)
        select m.id, v.at, v.state, v.code, v.text, v.place, v.digest, (select id from payload)
        from v join m on m.carrier = v.carrier and m.waybill = v.waybill where m.id is not null
        on conflict (parcel_id, at, state, digest) do nothing
        returning parcel_id, at, state, place),
    latest as (select distinct on (parcel_id) parcel_id, at, state from ins order by parcel_id, at desc, state),
    signed as (select distinct on (i.parcel_id) i.parcel_id, i.at, i.place
               from ins i join parcels p0 on p0.id = i.parcel_id
               where i.state = 'signed' and p0.signed_at is null order by i.parcel_id, i.at),
    changed as (
        update parcels p set
            last_event_at = greatest(p.last_event_at, l.at),
            state = case when s.at is not null then 'signed'
                         when p.last_event_at is not null and l.at < p.last_event_at then p.state
                         when p.state = 'signed' and l.state <> 'returned' then p.state
                         else l.state end,
            signed_at = coalesce(p.signed_at, s.at), signed_place = coalesce(p.signed_place, s.place)
        from latest l left join signed s on s.parcel_id = l.parcel_id
        where p.id = l.parcel_id
        returning p.id, p.state, p.dealer_id, p.workflow_id, s.at as newly_signed, s.place, p.receipt,
                  p.last_event_at)
    select 'changed' as kind, c.id, c.state, c.dealer_id, c.workflow_id, c.newly_signed, c.place, c.receipt,
           c.last_event_at, d.province, d.city, null as carrier, null as waybill, null::bigint as n
    from changed c join dealers d on d.id = c.dealer_id
    union all
    select 'unmatched', null, null, null, null, null, null, null, null, null, null, m.carrier, m.waybill,
           (select count(*) from v where v.carrier = m.carrier and v.waybill = m.waybill)
    from m where m.id is null
    union all
    select 'totals', null, null, null, null, null, null, null, null, null, null, null, null,
           (select id from payload)
    union all
    select 'new', null, null, null, null, null, null, null, null, null, null, null, null, (select count(*) from ins)"""
_APPLY_NEW, _APPLY_KEPT = text(_APPLY.format(payload=_PAYLOAD_NEW)), text(_APPLY.format(payload=_PAYLOAD_KEPT))


def ingest(session: Session, push: Push, *, source: str = "push") -> Ingested:
    """Store the payload and apply its tracks, in one statement (a push of waybills no parcel has
    takes one more). A malformed (but signed) payload is kept and nothing else is stored."""
    if push.malformed is not None:
        return Ingested(store_payload(session, provider=push.provider, source=source, body=push.body),
                        malformed=push.malformed, problems=push.problems)
    result = Ingested(0, problems=push.problems)
    return apply_tracks(session, push.tracks, provider=push.provider, result=result,
                        payload={"provider": push.provider, "source": source, "body": push.body})


def apply_tracks(session: Session, tracks, *, provider: str, result: Ingested, payload: dict | None = None,
                 payload_id: int | None = None, only: set[tuple[str, str]] | None = None) -> Ingested:
    """Apply tracks with a new payload (`payload`: its provider, source and body) or one kept
    before (`payload_id`); `only` the tracks of these (carrier, waybill)."""
    tracks = [t for t in tracks if only is None or (t.carrier, t.waybill) in only]
    result.tracks += len(tracks)
    keys = list(dict.fromkeys((t.carrier, t.waybill) for t in tracks))
    columns = {name: [] for name in ("carriers", "waybills", "ats", "states", "codes", "texts", "places", "digests")}
    for t in tracks:
        result.events += len(t.events)
        for e in t.events:
            columns["carriers"].append(t.carrier)
            columns["waybills"].append(t.waybill)
            columns["ats"].append(e.at)
            columns["states"].append(state_of(e.code, e.text))
            columns["codes"].append(e.code)
            columns["texts"].append(e.text)
            columns["places"].append(e.place)
            columns["digests"].append(digest(e.text, e.place))
    params = {**columns, "kcarriers": [c for c, _ in keys], "kwaybills": [w for _, w in keys]}
    if payload is not None:
        rows = session.execute(_APPLY_NEW, {**params, **payload}).all()
    else:
        rows = session.execute(_APPLY_KEPT, {**params, "payload_id": payload_id}).all()
    outside, signed_places, unmatched = [], [], {}
    for r in rows:
        if r.kind == "totals":
            result.payload_id = result.payload_id or r.n
        elif r.kind == "new":
            result.new += r.n
        elif r.kind == "unmatched":
            unmatched[(r.carrier, r.waybill)] = r.n
        else:
            if r.newly_signed is not None:
                province, city = places.parse(r.place)
                signed_places.append({"id": r.id, "signed_province": province, "signed_city": city})
                if places.outside(r.place, province=r.province, city=r.city):
                    outside.append((r.dealer_id, province or city or "unknown", r.newly_signed))
            if (r.newly_signed is not None or r.state == "returned") and r.receipt == "open":
                result.tell.append(SignedParcel(r.workflow_id, str(r.id), "signed" if r.newly_signed else r.state,
                                                (r.newly_signed or r.last_event_at).isoformat()))
    if unmatched and payload is not None:
        _keep_unmatched(session, provider, result.payload_id, unmatched)
        result.unmatched += [w for _, w in unmatched]
    if signed_places:
        session.execute(update(Parcel), signed_places)  # by primary key, one statement
    if outside:
        _alert(session, outside, result)
    return result


def _keep_unmatched(session: Session, provider: str, payload_id: int, counts: dict) -> None:
    stmt = insert(UnmatchedWaybill).values([
        dict(provider=provider, carrier=c, waybill=w, pushes=1, events=n, last_payload_id=payload_id)
        for (c, w), n in sorted(counts.items())])
    session.execute(stmt.on_conflict_do_update(
        index_elements=["carrier", "waybill"],
        set_=dict(pushes=UnmatchedWaybill.pushes + 1, events=stmt.excluded.events, provider=stmt.excluded.provider,
                  last_payload_id=stmt.excluded.last_payload_id, last_seen=func.now(), matched_at=None)))


def _alert(session: Session, signed: list[tuple[int, str, datetime]], result: Ingested) -> None:
    """Parcels signed outside their dealer's area, as diversion alerts filed into cases (the rule
    file decides whether the trigger is on and how severe it is)."""
    active = diversion.rules(session)
    if active is None or active[1].trigger(TRIGGER) is None:
        return
    hits = f"""hits as (select null::varchar as scan_id, null::varchar as code, dealer_id, null::int as product_id,
                   region, '{TRIGGER}'::varchar as trigger, null::numeric as price, null::numeric as guide_price,
                   null::int as units, null::numeric as baseline, at
            from unnest(cast(:dealers as int[]), cast(:regions as text[]), cast(:ats as timestamptz[]))
              as s(dealer_id, region, at))"""
    if diversion.find_alerts(session, hits, {"dealers": [d for d, _, _ in signed],
                                             "regions": [r for _, r, _ in signed],
                                             "ats": [a for _, _, a in signed]}).hits:
        filed = diversion.file_alerts(session)
        result.alerts += filed.alerts
        result.cases += filed.cases


def mark_told(session: Session, parcel_ids: list[str]) -> None:
    if parcel_ids:
        session.execute(update(Parcel).where(Parcel.id.in_([uuid.UUID(p) for p in parcel_ids]))
                        .values(workflow_told=True))


def replay_unmatched(session: Session, keys: list[tuple[str, str]]) -> Ingested | None:
    """Parcels just recorded whose waybills had tracking before them: apply the kept payload."""
    if not keys:
        return None
    found = session.execute(select(UnmatchedWaybill).where(
        UnmatchedWaybill.matched_at.is_(None),
        func.row(UnmatchedWaybill.carrier, UnmatchedWaybill.waybill).in_([func.row(c, w) for c, w in keys]))
        .with_for_update()).scalars().all()
    if not found:
        return None
    result = Ingested(payload_id=0)
    for u in found:
        payload = session.get(TrackingPayload, u.last_payload_id)
        try:
            data = json.loads(payload.body)
            tracks = read_tracks(data)[0] if isinstance(data, dict) else tracks_of_poll(data)
        except (ValueError, TypeError):
            continue
        apply_tracks(session, tracks, provider=u.provider, payload_id=payload.id, result=result,
                     only={(u.carrier, u.waybill)})
        u.matched_at = func.now()
    return result


def unmatched(session: Session, *, limit: int = 100, offset: int = 0) -> list[UnmatchedWaybill]:
    """Waybills tracked with no parcel, most recently seen first."""
    return list(session.scalars(select(UnmatchedWaybill).where(UnmatchedWaybill.matched_at.is_(None))
                                .order_by(UnmatchedWaybill.last_seen.desc(), UnmatchedWaybill.id.desc())
                                .limit(limit).offset(offset)))


def unmatched_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UnmatchedWaybill)
                          .where(UnmatchedWaybill.matched_at.is_(None))) or 0


# --- polling -----------------------------------------------------------------------------------------

def poll_body(tracks: list[Track]) -> str:
    """A poll answer kept as a payload: the tracks as JSON."""
    return json.dumps([{"carrier": t.carrier, "waybill": t.waybill, "code": t.code,
                        "events": [{"at": e.at.isoformat(), "code": e.code, "text": e.text, "place": e.place}
                                   for e in t.events]} for t in tracks], ensure_ascii=False)


def tracks_of_poll(data: list) -> list[Track]:
    return [Track(t["carrier"], t["waybill"], t["code"],
                  tuple(Event(datetime.fromisoformat(e["at"]), e["code"], e["text"], e["place"]) for e in t["events"]))
            for t in data]


def to_poll(session: Session, provider: str, *, now: datetime, limit: int = POLL_BATCH) -> list[Subscribed]:
    """Parcels of a polled provider still on their way (not signed or returned), shipped lately."""
    q = (select(Parcel.carrier, Parcel.waybill, Parcel.shipped_at, Dealer.province, Dealer.city)
         .join(Dealer, Dealer.id == Parcel.dealer_id)
         .where(Parcel.provider == provider, Parcel.state.not_in(("signed", "returned")),
                Parcel.shipped_at > now - POLL_FOR)
         .order_by(Parcel.last_event_at.asc().nulls_first()).limit(limit))
    return [Subscribed(c, w, at, _destination(province, city)) for c, w, at, province, city in session.execute(q)]


def _destination(province: str | None, city: str | None) -> str:
    province, city = places.short(province), places.short(city)
    if province and province in places.MUNICIPALITIES:
        return f"{province}市"
    return (f"{province}省" if province and province not in ("内蒙古", "广西", "西藏", "宁夏", "新疆") else province or "") + \
        (f"{city}市" if city else "")


def destination_of(dealer: Dealer) -> str:
    return _destination(dealer.province, dealer.city)


def untold(session: Session, *, limit: int = POLL_BATCH) -> list[SignedParcel]:
    """Signed parcels whose workflow was not told (the API could not reach Temporal after the commit)."""
    q = (select(Parcel.workflow_id, Parcel.id, Parcel.signed_at).where(
        Parcel.state == "signed", Parcel.receipt == "open", Parcel.workflow_told.is_(False))
         .order_by(Parcel.signed_at).limit(limit))
    return [SignedParcel(wid, str(pid), "signed", at.isoformat()) for wid, pid, at in session.execute(q)]

