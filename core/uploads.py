"""Checks every zip upload passes before anything in it is decompressed (course packs, Excel
workbooks): how many files, how much they unpack to, and how well each one compresses.

The sizes are the ones the archive declares; Python's ``zipfile`` never inflates a member past
its declared size (and fails its CRC check if the data disagrees), so checking the declared
sizes bounds what reading the archive can cost.
"""

from __future__ import annotations

import zipfile

# Below this size a member may compress as well as it likes (tiny XML files often do).
RATIO_FREE_BYTES = 1 << 20


def zip_refusal(
    archive: zipfile.ZipFile, *, max_files: int, max_bytes: int, max_ratio: float
) -> tuple[str, str] | None:
    """Why the archive must be refused, as (reason, member name), or None when it may be read."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > max_files:
        return f"the zip holds {len(members)} files; at most {max_files} are allowed", ""
    declared = sum(m.file_size for m in members)
    if declared > max_bytes:
        return f"the zip unpacks to {declared:,} bytes; at most {max_bytes:,}", ""
    for member in members:
        if member.file_size > RATIO_FREE_BYTES and member.file_size > max_ratio * max(
            member.compress_size, 1
        ):
            return "a file compresses suspiciously well (zip bomb?)", member.filename
    return None
