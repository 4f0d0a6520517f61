"""SWE-bench dataset files as Hugging Face publishes them: ``.jsonl``, a ``.json`` array, ``.parquet``.

Each row read comes with a source label (``file:line`` or ``file:row N``) so a bad one is named.
Reading never writes: a caller turns every row into a Task before it stores any. Parquet is
written with loopctl's nested fields as JSON text (``NESTED``), as the test lists already are:
a column of objects whose keys differ per task, or an empty one (``calibration.tier_passes`` of
a task no tier labelled), is no schema parquet can hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from taskset.errors import ExportError, TaskRecordError

SUFFIXES = (".jsonl", ".json", ".parquet")
NESTED = ("environment", "calibration", "meta")
"""loopctl's own object fields: JSON-encoded in a parquet export, decoded again on import."""


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """The rows as one parquet file, ``NESTED`` fields as JSON text (ExportError without pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("writing parquet needs pyarrow: pip install 'loopctl[swebench]'") from None
    flat = [{k: json.dumps(v, sort_keys=True) if k in NESTED else v for k, v in row.items()} for row in rows]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(flat), sink)
    return sink.getvalue().to_pybytes()


def read_rows(path: str | Path) -> list[tuple[str, Any]]:
    """``[(source, row), ...]`` from a dataset file; ExportError/TaskRecordError (one line) when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(f"{path}: unknown dataset format {suffix or '(no suffix)'!r} "
                          f"(expected {', '.join(SUFFIXES)})")
    if not path.exists():
        raise ExportError(f"{path}: no such file")
    if path.is_dir():
        raise ExportError(f"{path}: is a directory, not a dataset file")
    if suffix == ".parquet":
        return list(_parquet(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 text (byte {exc.start}); is it a {suffix} file?") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if suffix == ".json":
        return list(_json_array(path, text))
    return list(_jsonl(path, text))


def _jsonl(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        try:
            yield source, json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskRecordError(source, "<json>", f"not valid JSON ({exc.msg}, column {exc.colno})") from None


def _json_array(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskRecordError(f"{path}:{exc.lineno}", "<json>", f"not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and "instance_id" in data:
        data = [data]
    if not isinstance(data, list):
        raise TaskRecordError(str(path), "<json>", f"expected an array of rows, got {type(data).__name__}")
    for number, row in enumerate(data, 1):
        yield f"{path}:row {number}", row


def _parquet(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(f"{path}: reading parquet needs pyarrow: pip install 'loopctl[swebench]'") from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ExportError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None
    for number, row in enumerate(table.to_pylist(), 1):
        yield f"{path}:row {number}", row
