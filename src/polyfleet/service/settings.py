"""The service's settings, fixed when the app is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "MULTIPART_OVERHEAD", "Settings"]

DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024
# room for multipart boundaries and part headers above the document itself
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """`state_dir` holds the SQLite store (by default) and the scratch folder where documents are
    copied to be validated; `max_upload_bytes` caps one uploaded document."""

    state_dir: Path
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    @property
    def scratch_dir(self) -> Path:
        return self.state_dir / "scratch"

    @property
    def max_body_bytes(self) -> int:
        return self.max_upload_bytes + MULTIPART_OVERHEAD
