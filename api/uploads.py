"""Reading an upload from a request, for every import: the declared size is checked before a byte is
read, the body is streamed with a hard cap, and only the types the route names are accepted — a
text body of one of them, or the multipart field `file`."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from dealerflow.core.errors import Invalid, TooLarge, Unsupported

FRAMING = 64 * 1024  # room for a multipart envelope around a file of the largest size


@dataclass(frozen=True)
class Upload:
    data: bytes
    media_type: str  # of the body, or multipart/form-data
    filename: str  # lower case; "" for a plain body


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, *, limit: int, what: str = "the body") -> bytes:
    too_large = TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MB: split it")
    if int(request.headers.get("content-length") or 0) > limit + FRAMING:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large
    return bytes(data)


async def read_upload(request: Request, *, limit: int, accept: tuple[str, ...], hint: str) -> Upload:
    """The body (of a type in `accept`) or the multipart field `file`; `hint` says what to send instead."""
    mime = media_type(request)
    if mime == "multipart/form-data":
        if int(request.headers.get("content-length") or 0) > limit + FRAMING:
            raise TooLarge(f"the file is larger than {limit // (1024 * 1024)} MB: split it")
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Invalid("expected the file in the form field 'file'", field="file")
            data = await upload.read(limit + 1)
            name = (upload.filename or "").lower()
        if len(data) > limit:
            raise TooLarge(f"the file is larger than {limit // (1024 * 1024)} MB: split it")
        return Upload(data, mime, name)
    if mime in accept:
        return Upload(await read_body(request, limit=limit), mime, "")
    raise Unsupported(f"{hint}, not {mime or 'no content type'}")
