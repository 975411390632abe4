"""Badge images: the built-in ones drawn here (an SVG medal, and a PNG of it for backpacks that
take only PNG), and uploaded ones checked before they are stored.

PNG is written with zlib and struct: a flat medal needs no imaging library.
"""

from __future__ import annotations

import re
import struct
import zlib
from html import escape

from recognition.svg import SvgRefused, sanitise_svg

MAX_IMAGE_BYTES = 256_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PALETTE = {
    "course": ("#0b5c8c", "#e6f0f7"),
    "skill": ("#0f7b5a", "#e6f4ee"),
    "calibration": ("#5b3f9e", "#f1edf9"),
    "kudos": ("#b34700", "#fff1e6"),
    "custom": ("#1c2430", "#eef1f5"),
}


class ImageInvalid(ValueError):
    pass


def initials(name: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    return "".join(w[0].upper() for w in words[:2]) or "★"


def medal_svg(name: str, kind: str) -> bytes:
    ink, paper = PALETTE.get(kind, PALETTE["custom"])
    label = escape(initials(name))
    title = escape(name)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        f'<circle cx="100" cy="100" r="96" fill="{ink}"/>'
        f'<circle cx="100" cy="100" r="80" fill="{paper}"/>'
        f'<circle cx="100" cy="100" r="72" fill="none" stroke="{ink}" stroke-width="4" '
        'stroke-dasharray="6 6"/>'
        f'<text x="100" y="118" text-anchor="middle" font-family="DejaVu Sans, Arial, sans-serif"'
        f' font-size="54" font-weight="700" fill="{ink}">{label}</text></svg>'
    ).encode()


def _hex(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def medal_png(kind: str, size: int = 160) -> bytes:
    """A flat medal (outer ring, inner disc) as an RGBA PNG."""
    ink, paper = (_hex(c) for c in PALETTE.get(kind, PALETTE["custom"]))
    centre, outer, inner = (size - 1) / 2, size / 2 - 2, size / 2 * 0.8
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            if distance <= inner:
                rows += bytes((*paper, 255))
            elif distance <= outer:
                rows += bytes((*ink, 255))
            else:
                rows += b"\0\0\0\0"
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk; ``ImageInvalid`` when it is not a well-formed PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ImageInvalid("This is not a PNG file.")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        if offset + 12 > len(data):
            raise ImageInvalid("The PNG file is cut short.")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length] or b"\0" * 4)
        if len(body) != length or zlib.crc32(kind + body) != crc:
            raise ImageInvalid("The PNG file is damaged.")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ImageInvalid("The PNG file is incomplete.")
    width, height = struct.unpack(">II", chunks[0][1][:8])
    if not (16 <= width <= 2048 and 16 <= height <= 2048):
        raise ImageInvalid("A badge image must be between 16 and 2048 pixels wide and high.")
    return chunks


def check_image(data: bytes, filename: str) -> tuple[bytes, str]:
    """The image to store and its media type, or ``ImageInvalid`` with the reason. A PNG is
    stored as uploaded (browsers never run anything in one); an SVG as its checked tree,
    re-serialised (``recognition.svg``)."""
    if not data:
        raise ImageInvalid("The image is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageInvalid(f"The image is larger than {MAX_IMAGE_BYTES // 1000} kB.")
    name = filename.lower()
    if name.endswith(".png"):
        png_chunks(data)
        return data, "image/png"
    if name.endswith(".svg"):
        try:
            return sanitise_svg(data), "image/svg+xml"
        except SvgRefused as error:
            raise ImageInvalid(str(error)) from error
    raise ImageInvalid("Upload an SVG or PNG image.")
