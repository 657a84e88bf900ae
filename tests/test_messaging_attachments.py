"""Files on announcements and conversation messages: checked like evidence (a mistyped file 415, an
oversized one 413, nothing written or kept), downloaded only by those who see their announcement or
conversation (another dealer: 404), by the API and the console's multipart forms."""
from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import func, select

from dealerflow.models import Announcement, ConversationMessage, MessageAttachment

from .policy_support import PNG, unique
from .test_console_imports import login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _stored(settings, data: bytes) -> bool:
    digest = hashlib.sha256(data).hexdigest()
    return (settings.evidence_path / digest[:2] / digest).is_file()


def _staging_files(settings) -> set:
    return set(settings.evidence_path.glob(".upload-*")) if settings.evidence_path.exists() else set()


def test_hq_publishes_with_files_that_only_its_dealers_download(client, settings, sessions, make_user, make_dealer):
    hq, region = make_user("hq"), unique("att")
    reader, outsider = make_dealer(region=region), make_dealer()
    photo = PNG + uuid.uuid4().bytes  # a file of this test's own
    r = client.post("/api/v1/announcements/with-files", headers=hq.headers, data={
        "title": "陈列规范", "body": "See the attached guide.", "target": f'dealer.region == "{region}"',
        "ack_required": "true"}, files=[("photo", ("shelf.png", photo, "image/png")),
                                       ("document", ("guide.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["recipients"], a["ack_required"]) == (1, True)
    assert [(f["kind"], f["filename"], f["content_type"]) for f in a["attachments"]] == [
        ("photo", "shelf.png", "image/png"), ("document", "guide.pdf", "application/pdf")]
    assert _stored(settings, photo)
    seen = client.get(f"/api/v1/announcements/{a['id']}", headers=reader.headers).json()
    pid = seen["attachments"][0]["id"]
    got = client.get(f"/api/v1/announcements/{a['id']}/files/{pid}", headers=reader.headers)
    assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff" and ".png" in got.headers["content-disposition"]
    assert client.get(f"/api/v1/announcements/{a['id']}/files/{pid}", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/announcements/{a['id']}/files/{pid}", headers=hq.headers).status_code == 200
    assert client.get(f"/api/v1/announcements/{a['id']}/files/{pid + 1000000}", headers=hq.headers).status_code == 404
    listed = client.get("/api/v1/announcements", headers=reader.headers).json()
    assert [f["filename"] for f in listed[0]["attachments"]] == ["shelf.png", "guide.pdf"]
    assert client.post("/api/v1/announcements/with-files", headers=reader.headers,
                       data={"title": "x", "body": "y"}).status_code == 403


def test_mistyped_and_oversized_files_are_refused_and_nothing_is_kept(client, settings, sessions, make_user,
                                                                      make_dealer):
    hq, dealer = make_user("hq"), make_dealer()
    title = unique("refused")
    before = _staging_files(settings)
    fake = b"MZ\x90\x00not an image" + uuid.uuid4().bytes
    mistyped = client.post("/api/v1/announcements/with-files", headers=hq.headers, data={"title": title, "body": "b"},
                           files=[("photo", ("p.jpg", fake, "image/jpeg"))])
    assert mistyped.status_code == 415 and "p.jpg" in mistyped.json()["detail"], mistyped.text
    big = PNG + b"\0" * (10 * 1024 * 1024)
    oversized = client.post("/api/v1/announcements/with-files", headers=hq.headers, data={"title": title, "body": "b"},
                            files=[("photo", ("big.png", big, "image/png"))])
    assert oversized.status_code == 413, oversized.text
    good_then_bad = client.post("/api/v1/announcements/with-files", headers=hq.headers, data={"title": "", "body": "b"},
                                files=[("photo", ("ok.png", PNG + b"x", "image/png"))])
    assert good_then_bad.status_code == 422 and good_then_bad.json()["errors"][0]["field"] == "title"
    assert not _stored(settings, PNG + b"x") and not _stored(settings, fake)
    code = dealer.dealer.code
    r = client.post(f"/api/v1/conversations/{code}/messages/with-files", headers=dealer.headers, data={"text": "hi"},
                    files=[("document", ("x.pdf", b"plain text, not a pdf", "application/pdf"))])
    assert r.status_code == 415
    r = client.post(f"/api/v1/conversations/{code}/messages/with-files", headers=dealer.headers, data={"text": " "})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "text"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Announcement).where(Announcement.title == title)) == 0
        assert s.scalar(select(func.count()).select_from(ConversationMessage)
                        .where(ConversationMessage.dealer_id == dealer.dealer.id)) == 0
    assert _staging_files(settings) == before


def test_a_conversation_carries_files_both_ways_and_hides_them_from_other_dealers(client, sessions, make_user,
                                                                                  make_dealer):
    am = make_user("account_manager")
    dealer, other = make_dealer(account_manager=am.user.username), make_dealer()
    code = dealer.dealer.code
    photo = PNG + uuid.uuid4().bytes
    r = client.post(f"/api/v1/conversations/{code}/messages/with-files", headers=dealer.headers, data={"text": ""},
                    files=[("photo", ("damage.png", photo, "image/png"))])
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["body"] == "" and [f["filename"] for f in m["attachments"]] == ["damage.png"]
    fid = m["attachments"][0]["id"]
    thread = client.get(f"/api/v1/conversations/{code}", headers=am.headers).json()
    assert thread[-1]["attachments"][0]["id"] == fid
    assert client.get(f"/api/v1/conversations/{code}/files/{fid}", headers=am.headers).content == photo
    assert client.get(f"/api/v1/conversations/{code}/files/{fid}", headers=other.headers).status_code == 404
    # Through the other dealer's own conversation the file is not found either.
    assert client.get(f"/api/v1/conversations/{other.dealer.code}/files/{fid}",
                      headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/conversations/{code}/messages/with-files", headers=other.headers,
                       data={"text": "hi"}).status_code == 404
    r = client.post(f"/api/v1/conversations/{code}/messages/with-files", headers=am.headers,
                    data={"text": "Replacement on its way"}, files=[("document", ("rma.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201 and not r.json()["from_dealer"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageAttachment).join(
            ConversationMessage, ConversationMessage.id == MessageAttachment.message_id)
            .where(ConversationMessage.dealer_id == dealer.dealer.id)) == 2


def test_the_console_forms_send_files_with_the_csrf_field(client, make_user, make_dealer):
    hq, region = make_user("hq"), unique("catt")
    dealer = make_dealer(region=region)
    login(client, hq.user.username)
    token = client.cookies.get("dealerflow_csrf")
    form = client.get("/console/announcements").text
    assert 'enctype="multipart/form-data"' in form and 'name="photo"' in form
    bad = client.post("/console/announcements", data={"csrf_token": token, "title": "Bad file", "body": "b"},
                      files=[("photo", ("x.png", b"not a png", "image/png"))])
    assert bad.status_code == 415 and 'value="Bad file"' in bad.text
    ok = client.post("/console/announcements", data={"csrf_token": token, "title": "展会邀请", "body": "Details inside",
                                                     "target": f'dealer.region == "{region}"'},
                     files=[("document", ("invite.pdf", PDF, "application/pdf"))], follow_redirects=False)
    assert ok.status_code == 303, ok.text
    shown = client.get(ok.headers["location"]).text
    assert "invite.pdf" in shown and "/files/" in shown
    r = client.post(f"/console/conversations/{dealer.dealer.code}", data={"csrf_token": token, "text": "See photo"},
                    files=[("photo", ("p.png", PNG, "image/png"))], follow_redirects=False)
    assert r.status_code == 303
    thread = client.get(f"/console/conversations/{dealer.dealer.code}").text
    assert "See photo" in thread and "p.png" in thread and f"/api/v1/conversations/{dealer.dealer.code}/files/" in thread
