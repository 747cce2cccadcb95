"""Minimal PNG writer and reader for 8-bit RGB images (standard library only).

Enough for ``drawstreamd render``, golden-image tests and the contact sheet: the writer emits
truecolour, non-interlaced PNGs; the reader accepts what the writer writes (and any 8-bit
RGB/RGBA non-interlaced PNG with the standard filters).
"""

from __future__ import annotations

import struct
import zlib

_SIG = b"\x89PNG\r\n\x1a\n"


class PngError(ValueError):
    pass


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode(width: int, height: int, rgb: bytes) -> bytes:
    """PNG bytes of a ``width`` x ``height`` image given as packed RGB rows."""
    if len(rgb) != width * height * 3:
        raise PngError(f"expected {width * height * 3} bytes of RGB, got {len(rgb)}")
    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _SIG + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def decode(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of an 8-bit RGB or RGBA PNG (alpha is dropped)."""
    if not data.startswith(_SIG):
        raise PngError("not a PNG file")
    pos = len(_SIG)
    idat = b""
    width = height = channels = 0
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise PngError("only 8-bit non-interlaced RGB/RGBA PNGs are supported")
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if not channels:
        raise PngError("PNG without IHDR")
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        base = y * (stride + 1)
        ftype = raw[base]
        line = bytearray(raw[base + 1 : base + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
            elif ftype != 0:
                raise PngError(f"unknown PNG filter {ftype}")
        prev = line
        if channels == 3:
            out += line
        else:
            for i in range(0, stride, 4):
                out += line[i : i + 3]
    return width, height, bytes(out)


def upscale(width: int, height: int, rgb: bytes, scale: int) -> bytes:
    """Nearest-neighbour upscale by an integer factor."""
    if scale == 1:
        return rgb
    rows = []
    for y in range(height):
        row = rgb[y * width * 3 : (y + 1) * width * 3]
        wide = b"".join(row[x * 3 : x * 3 + 3] * scale for x in range(width))
        rows.append(wide * scale)
    return b"".join(rows)
