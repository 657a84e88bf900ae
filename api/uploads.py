"""Reading an upload from a request, for every import: the declared size is checked before a byte is
read, the body is streamed with a hard cap, and only the types the route names are accepted — a
text body of one of them, or the multipart field `file`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import parse_qsl

import python_multipart as multipart
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
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


class FileSink(Protocol):
    """Where one file of a form goes as it arrives (an evidence staging file)."""
    def write(self, chunk: bytes) -> None: ...
    def finish(self): ...  # checked and kept: what was staged
    def abort(self) -> None: ...


@dataclass
class StreamedForm:
    fields: dict[str, str]
    files: list[tuple[str, FileSink]]  # (field name, its sink), in the order sent

    async def finish(self) -> list:
        """Every file finished (checked by content, kept) in a worker thread, in the order sent; when
        one is refused, all of them are aborted, so nothing half-kept stays behind."""
        def finish_all() -> list:
            try:
                return [sink.finish() for _, sink in self.files]
            except BaseException:
                for _, sink in self.files:
                    sink.abort()
                raise
        return await run_in_threadpool(finish_all)


def check_declared_size(request: Request, limit: int, what: str) -> None:
    """Refuse a body whose declared size is over `limit`, before a byte of it is read."""
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        raise Invalid("Content-Length is not a number", field="Content-Length") from None
    if declared > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MB")


async def stream_form(request: Request, *, limit: int, open_file: Callable[[str, str], FileSink],
                      file_fields: tuple[str, ...], max_files: int = 20, max_field: int = 64 * 1024) -> StreamedForm:
    """A multipart/form-data (or urlencoded) body read as it arrives, with a hard cap of `limit` bytes:
    each file part is written straight to the sink `open_file(field, filename)` gives (no temporary
    copy elsewhere), text fields are kept up to `max_field` bytes. A file input left empty (a part
    with no file name and no content) is skipped. On any error every sink is aborted."""
    mime = media_type(request)
    check_declared_size(request, limit + FRAMING, "the upload")
    parsed = getattr(request, "_form", None)
    if parsed is not None:  # a console form whose CSRF field was read first: the body is parsed already
        return await _from_parsed(parsed, open_file=open_file, file_fields=file_fields, max_files=max_files,
                                  max_field=max_field)
    if mime == "application/x-www-form-urlencoded":
        body = await read_body(request, limit=max_field, what="the form")
        return StreamedForm(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)), [])
    if mime != "multipart/form-data":
        raise Unsupported(f"send the form as multipart/form-data, not {mime or 'no content type'}")
    _, params = parse_options_header(request.headers["content-type"])
    boundary = params.get(b"boundary")
    if not boundary:
        raise Invalid("multipart body without a boundary", field="body")

    form = StreamedForm({}, [])
    sinks: list[FileSink] = []
    part: dict = {}
    pending: list[tuple[FileSink, bytes]] = []

    def on_part_begin():
        part.clear()
        part.update(headers={}, name=b"", value=b"", data=bytearray(), sink=None, file=False)

    def on_header_field(data, start, end):
        part["name"] += data[start:end]

    def on_header_value(data, start, end):
        part["value"] += data[start:end]

    def on_header_end():
        part["headers"][part["name"].lower()] = part["value"]
        part["name"], part["value"] = b"", b""

    def on_headers_finished():
        _, options = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        part["field"] = name
        if b"filename" in options:
            if name not in file_fields:
                raise Invalid(f"unexpected file field {name!r}: send {', '.join(file_fields)}", field=name)
            part["file"] = True
            part["filename"] = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if not part["file"]:
            if len(part["data"]) + len(chunk) > max_field:
                raise TooLarge(f"the form field {part['field']!r} is too long", field=part["field"])
            part["data"] += chunk
            return
        if part["sink"] is None:
            if len(form.files) >= max_files:
                raise Invalid(f"at most {max_files} files", field=part["field"])
            part["sink"] = open_file(part["field"], part["filename"] or part["field"])
            sinks.append(part["sink"])
            form.files.append((part["field"], part["sink"]))
        pending.append((part["sink"], chunk))

    def on_part_end():
        if not part["file"]:
            form.fields[part["field"]] = part["data"].decode("utf-8", "replace")

    def flush():
        for sink, chunk in pending:
            sink.write(chunk)
        pending.clear()

    parser = multipart.MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + FRAMING:
                raise TooLarge(f"the upload is larger than {limit // (1024 * 1024)} MB")
            parser.write(chunk)
            if pending:
                await run_in_threadpool(flush)
        parser.finalize()
    except FormParserError:
        for sink in sinks:
            sink.abort()
        raise Invalid("the multipart body is malformed", field="body") from None
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    return form


async def _from_parsed(form, *, open_file: Callable[[str, str], FileSink], file_fields: tuple[str, ...],
                       max_files: int, max_field: int) -> StreamedForm:
    """`stream_form`'s answer for a form Starlette has parsed: each file copied into its sink."""
    out = StreamedForm({}, [])
    try:
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile):
                if len(value.encode()) > max_field:
                    raise TooLarge(f"the form field {name!r} is too long", field=name)
                out.fields[name] = value
                continue
            if not value.filename and not value.size:
                continue  # a file input left empty
            if name not in file_fields:
                raise Invalid(f"unexpected file field {name!r}: send {', '.join(file_fields)}", field=name)
            if len(out.files) >= max_files:
                raise Invalid(f"at most {max_files} files", field=name)
            sink = open_file(name, value.filename or name)
            out.files.append((name, sink))
            while chunk := await value.read(FRAMING):
                await run_in_threadpool(sink.write, chunk)
    except BaseException:
        for _, sink in out.files:
            sink.abort()
        raise
    return out
