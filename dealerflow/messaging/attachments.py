"""Files of announcements and conversation messages: checked like evidence (size and type by content,
before they are kept) and stored in the evidence store by SHA-256; a row per file names its owner.
Who may download one is who may see its owner: an announcement's dealers (another dealer: not found)
and HQ; a conversation's dealer and the staff who see that dealer."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import NotFound
from dealerflow.models import AnnouncementRecipient, ConversationMessage, MessageAttachment

MAX_FILES = 10


def attach(session: Session, files: Sequence[dict], *, announcement_id: int | None = None,
           message_id: int | None = None) -> None:
    """Rows for files already checked (dicts of kind, filename, content_type, size, sha256)."""
    if files:
        session.execute(insert(MessageAttachment).values([
            {"announcement_id": announcement_id, "message_id": message_id, "kind": f["kind"],
             "filename": f["filename"][:200], "content_type": f["content_type"], "size": f["size"],
             "sha256": f["sha256"]} for f in files]))


def read(a: MessageAttachment) -> dict:
    return {"id": a.id, "kind": a.kind, "filename": a.filename, "content_type": a.content_type, "size": a.size}


def of_announcements(session: Session, ids: Sequence[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(select(MessageAttachment).where(MessageAttachment.announcement_id.in_(list(ids)))
                                 .order_by(MessageAttachment.id)):
            out[a.announcement_id].append(read(a))
    return out


def of_messages(session: Session, ids: Sequence[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(select(MessageAttachment).where(MessageAttachment.message_id.in_(list(ids)))
                                 .order_by(MessageAttachment.id)):
            out[a.message_id].append(read(a))
    return out


def announcement_file(session: Session, *, announcement_id: int, attachment_id: int,
                      dealer_id: int | None) -> MessageAttachment:
    """An announcement's file; `dealer_id` (a dealer's user): only of an announcement sent to it."""
    q = select(MessageAttachment).where(MessageAttachment.id == attachment_id,
                                        MessageAttachment.announcement_id == announcement_id)
    if dealer_id is not None:
        q = q.join(AnnouncementRecipient, AnnouncementRecipient.announcement_id == MessageAttachment.announcement_id) \
            .where(AnnouncementRecipient.dealer_id == dealer_id)
    found = session.scalars(q).first()
    if found is None:
        raise NotFound("attachment not found")
    return found


def conversation_file(session: Session, *, dealer_id: int, attachment_id: int) -> MessageAttachment:
    """A file of the dealer's conversation (the caller's right to see the dealer is checked before)."""
    found = session.scalars(select(MessageAttachment).join(
        ConversationMessage, ConversationMessage.id == MessageAttachment.message_id)
        .where(MessageAttachment.id == attachment_id, ConversationMessage.dealer_id == dealer_id)).first()
    if found is None:
        raise NotFound("attachment not found")
    return found
