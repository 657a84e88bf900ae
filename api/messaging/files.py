"""Files sent with an announcement or a conversation message, as the evidence of a dealer request is
received: the declared size checked before a byte is read, the caller's scope next (a 404 before the
body), each file streamed into the evidence store under its kind's limit and checked by its content;
kept only when the message is committed, discarded otherwise."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import TooLarge, Unsupported
from dealerflow.models import MessageAttachment
from dealerflow.shared.evidence import ALLOWED, EvidenceStore, EvidenceTooLarge, EvidenceTypeNotAllowed, download_name

from api.uploads import check_declared_size, stream_form

FILE_FIELDS = ("photo", "document")
MAX_FILES = 10
MAX_FORM = sum(ALLOWED[k][1] for k in FILE_FIELDS) + 1024 * 1024
_FILES = {"photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
          "document": {"type": "array", "items": {"type": "string", "format": "binary"}}}


def form_schema(**fields: dict) -> dict:
    """openapi_extra for a multipart form of these text fields and the files."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {**fields, **_FILES}}}}}}


@dataclass
class ReceivedForm:
    fields: dict
    staged: list  # (temporary path, StoredFile)

    def files(self) -> list[dict]:
        return [{"kind": f.kind, "filename": f.filename, "content_type": f.content_type, "size": f.size,
                 "sha256": f.sha256} for _, f in self.staged]

    def keep(self, request: Request) -> None:
        store = EvidenceStore(request.app.state.settings.evidence_path)
        for path, stored in self.staged:
            store.keep(path, stored)

    def discard(self, request: Request) -> None:
        for path, _ in self.staged:
            EvidenceStore.discard(path)


async def receive(request: Request, check=None) -> ReceivedForm:
    """The form's text fields and its files, staged (see the module's docstring)."""
    check_declared_size(request, MAX_FORM, "the upload")
    if check is not None:
        await run_in_threadpool(check)
    store = EvidenceStore(request.app.state.settings.evidence_path)
    streamed = await stream_form(request, limit=MAX_FORM, open_file=lambda kind, name: store.begin(kind, name),
                                 file_fields=FILE_FIELDS, max_files=MAX_FILES)

    try:
        staged = await streamed.finish()
    except (EvidenceTooLarge, EvidenceTypeNotAllowed) as e:
        refused = TooLarge(str(e)) if isinstance(e, EvidenceTooLarge) else Unsupported(str(e))
        refused.fields = streamed.fields  # the console shows the form again with what was typed
        raise refused from None
    return ReceivedForm(streamed.fields, staged)


def file_response(request: Request, a: MessageAttachment, stem: str) -> FileResponse:
    """The stored file under a name of ours with the extension of its detected type, never sniffed."""
    path = EvidenceStore(request.app.state.settings.evidence_path).path(a.sha256)
    name = download_name(stem, a.content_type)
    return FileResponse(path, media_type=a.content_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff"})


FILE_RESPONSE = {200: {"description": "the file as it was uploaded",
                       "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}}
