"""Files the CLI writes: names made from ids, and writing each file whole or not at all.

A tenant id is data: `../../etc/x`, `/tmp/y`, 300 characters or a newline must never decide
where a file goes or stop the others from being written. `safe_name` is the one encoding of an
id as a file name (docs/invoice-schema.md): letters, digits, `_`, `-` and inner dots stay, every
other byte of its UTF-8 is `%XX`, so distinct ids give distinct names; a name longer than
`MAX_NAME_BYTES` keeps its first part and ends in `~` and a hash of the whole id. The documents
themselves keep the real id.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from meterhouse.errors import MeterhouseError

MAX_NAME_BYTES = 160  # leaves room for a suffix and a prefix within any file system's 255
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def safe_name(text: str) -> str:
    """`text` as one file name component, reversible and unique (see the module docstring)."""
    encoded = "".join(
        char if char in _KEPT or (char == "." and index) else _percent(char)
        for index, char in enumerate(text)
    )
    if len(encoded) <= MAX_NAME_BYTES:
        return encoded or "%"  # the empty id: a name no other id encodes to
    head = encoded[: MAX_NAME_BYTES - 18]
    head = head[: head.rfind("%")] if "%" in head[-2:] else head  # never half an escape
    return f"{head}~{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _inside(out: Path, name: str) -> Path:
    """`out / name`, refusing a name that is not one plain component (a bug, not data)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise MeterhouseError(f"internal error: {name!r} is not a file name; nothing written.")
    return out / name


def write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file under `out`, whole: all of them into a hidden staging folder in `out`
    first, then each renamed into place, so a failure leaves no file half-written. (A
    temporary name per file, renamed beside its target, costs ten times more here.)"""
    targets = {name: _inside(out, name) for name in files}
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=out))
    except OSError as exc:
        raise MeterhouseError(f"cannot write into {out}: {exc.strerror or exc}.") from exc
    try:
        for name, content in files.items():
            (staging / name).write_bytes(content)
        for name, target in targets.items():
            os.replace(staging / name, target)
    except OSError as exc:
        raise MeterhouseError(
            f"cannot write into {out}: {exc.strerror or exc}. Files not yet moved into place "
            "were not written; free space or fix the folder, then run this again."
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(targets.values())


def write_whole(path: Path, content: bytes) -> None:
    """Write a file whole or not at all: a temporary name beside it, then a rename."""
    write_whole_with(path, lambda temporary: temporary.write_bytes(content))


def write_whole_with(path: Path, writer: Callable[[Path], object]) -> None:
    """Like `write_whole`, with `writer(temporary_path)` writing the content (e.g. Polars'
    `write_parquet`): the temporary file is removed when it fails, never left behind."""
    if not path.parent.is_dir():
        raise MeterhouseError(f"cannot write {path}: folder {path.parent} missing.")
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        writer(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise MeterhouseError(f"cannot write {path}: {exc.strerror or exc}.") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
