"""The gallery: every finished drawing as ``<state-dir>/gallery/<id>.png`` and ``<id>.json``.

The PNG is the canvas itself (96×96 by default, no upscale); the JSON holds the donation, the
plan that was drawn and its timings, so a drawing can be looked at or replayed later.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from drawstreamd.render import png

if TYPE_CHECKING:
    from pathlib import Path

    from drawstreamd.model import QueueItem


class GalleryEntry(msgspec.Struct, kw_only=True):
    id: int
    donation: Any
    status: str
    rule: str | None = None
    origin: str = ""
    plan: msgspec.Raw = msgspec.Raw(b"null")
    errors: list[str] = []
    timings: dict[str, float] = {}


class Gallery:
    def __init__(self, root: Path) -> None:
        self.root = root

    def png_path(self, item_id: int) -> Path:
        return self.root / f"{item_id}.png"

    def json_path(self, item_id: int) -> Path:
        return self.root / f"{item_id}.json"

    async def save(
        self,
        item: QueueItem,
        plan_json: bytes,
        canvas_rgb: bytes,
        width: int,
        height: int,
        *,
        timings: dict[str, float],
        origin: str,
        errors: list[str],
    ) -> None:
        entry = GalleryEntry(
            id=item.id,
            donation=msgspec.to_builtins(item.donation),
            status=str(item.status),
            rule=item.rule,
            origin=origin,
            plan=msgspec.Raw(plan_json),
            errors=errors,
            timings=timings,
        )
        image = png.encode(width, height, canvas_rgb)
        meta = msgspec.json.format(msgspec.json.encode(entry), indent=2)
        await trio.to_thread.run_sync(self._write, item.id, image, meta)

    async def prune(self, keep: int) -> int:
        """Delete all but the newest ``keep`` pictures (by id); how many were deleted."""
        return await trio.to_thread.run_sync(self._prune, keep)

    def _prune(self, keep: int) -> int:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return 0
        ids = sorted(
            {int(stem) for stem, _, ext in (n.partition(".") for n in names)
             if stem.isdigit() and ext in ("png", "json")}
        )  # fmt: skip
        old = ids[: max(0, len(ids) - keep)]
        for item_id in old:
            for path in (self.png_path(item_id), self.json_path(item_id)):
                path.unlink(missing_ok=True)
        return len(old)

    def _write(self, item_id: int, image: bytes, meta: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for path, data in ((self.png_path(item_id), image), (self.json_path(item_id), meta)):
            tmp = path.with_suffix(path.suffix + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
