"""Evidence files: checked for size and type (by their content, not their name), stored once by
SHA-256 under the evidence directory. Production points DEALERFLOW_EVIDENCE_DIR at shared storage."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype

from dealerflow.core.errors import TooLarge, Unsupported

MB = 1024 * 1024
# Evidence type → (allowed content types, size limit).
ALLOWED = {
    "photo": ({"image/jpeg", "image/png", "image/webp", "image/heic"}, 10 * MB),
    "video": ({"video/mp4", "video/quicktime", "video/webm"}, 200 * MB),
    "document": ({"application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}, 20 * MB),
}
CHUNK = 1024 * 1024


class EvidenceTooLarge(TooLarge):
    pass


class EvidenceTypeNotAllowed(Unsupported):
    pass


@dataclass(frozen=True)
class StoredFile:
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str


# Office files are zip archives: a "document" that would expand to gigabytes (a zip bomb) is refused
# by what its directory declares, before it is stored.
ARCHIVE_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_EXPANDED = 100 * MB  # all members together, uncompressed
MAX_RATIO = 100  # uncompressed : compressed, of the whole file and of any member
MAX_MEMBERS = 10_000
# The extension a stored file is served with, from its detected content type (never the sender's name).
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic",
              "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "application/pdf": ".pdf",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx"}


def check_archive(path: Path, filename: str) -> None:
    """Refuse an office file whose members expand too far (zip bomb), from its zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise EvidenceTypeNotAllowed(f"{filename}: not a readable office document") from None
    expanded = sum(m.file_size for m in members)
    packed = max(path.stat().st_size, 1)
    if len(members) > MAX_MEMBERS or expanded > MAX_EXPANDED or expanded > MAX_RATIO * packed or any(
            m.file_size > MAX_RATIO * max(m.compress_size, 1) for m in members if m.file_size > MB):
        raise EvidenceTooLarge(f"{filename}: expands to {expanded // MB} MB in {len(members)} parts; "
                               f"an office document may expand to {MAX_EXPANDED // MB} MB, {MAX_RATIO} times its size")


def download_name(stem: str, content_type: str | None) -> str:
    """The name a stored file is served under: a safe stem of ours and the extension of its detected type."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:100] or "evidence"
    return safe + EXTENSIONS.get(content_type or "", ".bin")


class Staging:
    """One file as it arrives: written to a temporary file in the evidence directory and hashed,
    refused as soon as it passes its kind's limit; `finish` checks its content."""

    def __init__(self, root: Path, kind: str, filename: str):
        self.kind, self.filename = kind, (filename or kind)[:200]
        self.allowed, self.limit = ALLOWED[kind]
        root.mkdir(parents=True, exist_ok=True)
        self.digest, self.size, self.head = hashlib.sha256(), 0, b""
        self.tmp = tempfile.NamedTemporaryFile(dir=root, delete=False, prefix=".upload-")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise EvidenceTooLarge(f"{self.filename}: larger than the {self.limit // MB} MB allowed for a {self.kind}")
        if len(self.head) < 8192:
            self.head += chunk[:8192 - len(self.head)]
        self.digest.update(chunk)
        self.tmp.write(chunk)

    def finish(self) -> tuple[Path, StoredFile]:
        path = Path(self.tmp.name)
        try:
            self.tmp.close()
            guessed = filetype.guess(self.head) if self.head else None
            content_type = guessed.mime if guessed else "unknown"
            if content_type not in self.allowed:
                raise EvidenceTypeNotAllowed(f"{self.filename}: content is {content_type}; a {self.kind} must be "
                                             f"one of {', '.join(sorted(self.allowed))}")
            if content_type in ARCHIVE_TYPES:
                check_archive(path, self.filename)
        except BaseException:
            self.abort()
            raise
        return path, StoredFile(self.kind, self.filename, content_type, self.size, self.digest.hexdigest())

    def abort(self) -> None:
        self.tmp.close()
        Path(self.tmp.name).unlink(missing_ok=True)


class EvidenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def begin(self, kind: str, filename: str) -> Staging:
        return Staging(self.root, kind, filename)

    def stage(self, kind: str, filename: str, stream: BinaryIO) -> tuple[Path, StoredFile]:
        """Copy `stream` into a temporary file, hashing it; refuse it (keeping nothing) when it is too
        large or its content is not one of the types allowed for `kind`. `keep` or `discard` it next,
        so a submission whose last file is refused stores none of the others."""
        staging = self.begin(kind, filename)
        try:
            while chunk := stream.read(CHUNK):
                staging.write(chunk)
        except BaseException:
            staging.abort()
            raise
        return staging.finish()

    def keep(self, staged: Path, stored: StoredFile) -> None:
        target = self.path(stored.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # same content, same name: storing twice is harmless

    @staticmethod
    def discard(staged: Path) -> None:
        staged.unlink(missing_ok=True)
