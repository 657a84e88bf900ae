"""Evidence files: checked for size and type (by their content, not their name), stored once by
SHA-256 under the evidence directory. Production points DEALERFLOW_EVIDENCE_DIR at shared storage."""
from __future__ import annotations

import hashlib
import os
import tempfile
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


class EvidenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def stage(self, kind: str, filename: str, stream: BinaryIO) -> tuple[Path, StoredFile]:
        """Copy `stream` into a temporary file, hashing it; refuse it (keeping nothing) when it is too
        large or its content is not one of the types allowed for `kind`. `keep` or `discard` it next,
        so a submission whose last file is refused stores none of the others."""
        allowed, limit = ALLOWED[kind]
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size, head = hashlib.sha256(), 0, b""
        tmp = tempfile.NamedTemporaryFile(dir=self.root, delete=False, prefix=".upload-")
        try:
            with tmp:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise EvidenceTooLarge(f"{filename}: larger than the {limit // MB} MB allowed for a {kind}")
                    if len(head) < 8192:
                        head += chunk[:8192 - len(head)]
                    digest.update(chunk)
                    tmp.write(chunk)
            guessed = filetype.guess(head) if head else None
            content_type = guessed.mime if guessed else "unknown"
            if content_type not in allowed:
                raise EvidenceTypeNotAllowed(
                    f"{filename}: content is {content_type}; a {kind} must be one of {', '.join(sorted(allowed))}")
        except BaseException:
            os.unlink(tmp.name)
            raise
        return Path(tmp.name), StoredFile(kind, filename, content_type, size, digest.hexdigest())

    def keep(self, staged: Path, stored: StoredFile) -> None:
        target = self.path(stored.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # same content, same name: storing twice is harmless

    @staticmethod
    def discard(staged: Path) -> None:
        staged.unlink(missing_ok=True)
