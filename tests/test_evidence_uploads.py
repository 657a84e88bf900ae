"""Evidence uploads: the caller and the declared size are checked before a byte of the body is read,
the body is streamed with hard caps, office files that would expand too far are refused, and a
stored file is served under a name of ours."""
from __future__ import annotations

import asyncio
import io
import zipfile

import pytest

from .policy_support import PNG, assignment, publish_with_tasks

TASKS = """\
{key: window-photo, title: Photograph the window, due: 1h, evidence: [photo], reviewer: hq, points: 50}
{key: training-record, title: Send the training record, due: 1h, evidence: [document], reviewer: hq, points: 10}"""
GIB = 1024 ** 3


@pytest.fixture
def rollout(client, make_dealer, make_user):
    return publish_with_tasks(client, make_dealer, make_user, TASKS)


def post_streaming(app, path: str, headers: dict, body_chunks, limit_chunks: int = 10_000) -> tuple[int, int]:
    """POST through the ASGI app with a body the app pulls chunk by chunk; returns (status, bytes it pulled)."""
    pulled = 0
    chunks = iter(body_chunks)
    status = 0

    async def receive():
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "app": app,
             "server": ("testserver", 80), "client": ("testclient", 50000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return status, pulled


def endless_photo(boundary: str):
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"w.png\"\r\n"
           f"Content-Type: image/png\r\n\r\n").encode() + PNG
    while True:
        yield b"\0" * (256 * 1024)


def test_an_upload_is_refused_before_a_byte_is_read(client, rollout, settings):
    policy_id, hq, dealer, other = rollout
    url = f"/api/v1/policy-tasks/{assignment(client, dealer, 'window-photo')['id']}/evidence"
    form = {"Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": str(GIB)}
    # Anonymous: 401, nothing read.
    assert post_streaming(client.app, url, form, endless_photo("xyz")) == (401, 0)
    # Declared too large: 413, nothing read.
    assert post_streaming(client.app, url, {**form, **dealer.headers}, endless_photo("xyz")) == (413, 0)
    # Another dealer's task: 404, nothing read.
    small = {**form, "Content-Length": "1000"}
    assert post_streaming(client.app, url, {**small, **other.headers}, endless_photo("xyz")) == (404, 0)
    # Not declared (chunked): streamed, and cut at the photo limit, far before the end of the stream.
    chunked = {"Content-Type": "multipart/form-data; boundary=xyz", **dealer.headers}
    status, pulled = post_streaming(client.app, url, chunked, endless_photo("xyz"))
    assert status == 413 and 10 * 1024 * 1024 < pulled < 12 * 1024 * 1024
    assert not list(settings.evidence_path.rglob(".upload-*"))


def test_a_zip_bomb_as_an_office_document_is_refused(client, rollout, settings):
    policy_id, hq, dealer, other = rollout
    url = f"/api/v1/policy-tasks/{assignment(client, dealer, 'training-record')['id']}/evidence"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")
        z.writestr("word/media/image1.bin", b"\0" * (20 * 1024 * 1024))  # 20 MB in 20 kB
    r = client.post(url, files={"document": ("record.docx", buf.getvalue(), "application/octet-stream")},
                    headers=dealer.headers)
    assert r.status_code == 413 and "expands" in r.json()["detail"], r.text
    assert not list(settings.evidence_path.rglob(".upload-*"))
    assert assignment(client, dealer, "training-record")["status"] == "assigned"


def test_a_stored_file_is_served_under_a_safe_name_as_an_attachment(client, rollout):
    policy_id, hq, dealer, other = rollout
    url = f"/api/v1/policy-tasks/{assignment(client, dealer, 'window-photo')['id']}/evidence"
    r = client.post(url, files={"photo": ("evil.exe", PNG, "application/x-msdownload")}, headers=dealer.headers)
    assert r.status_code == 201, r.text
    evidence_id = r.json()["evidence"][0]["id"]
    file = client.get(f"/api/v1/evidence/{evidence_id}", headers=hq.headers)
    assert file.status_code == 200 and file.content == PNG
    disposition = file.headers["content-disposition"]
    name = f"window-photo-photo-{evidence_id}.png"
    assert disposition == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    assert "evil" not in disposition and file.headers["x-content-type-options"] == "nosniff"
    assert file.headers["content-type"] == "image/png"
