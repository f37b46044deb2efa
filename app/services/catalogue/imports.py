"""Bulk-import files (agencies, revenue types): CSV or JSON rows, all-or-nothing errors by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from app.errors import ValidationFailed


@dataclass(frozen=True)
class ImportRow:
    """One record of an uploaded file with the line (CSV) or 1-based position (JSON) it came from."""

    line: int
    data: dict[str, Any]


@dataclass
class RowError:
    line: int
    field: str
    message: str


def parse_import_file(body: bytes, content_type: str) -> list[ImportRow]:
    """Rows of a CSV (header line first) or JSON (an array, or ``{"data": [...]}``) upload."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media == "" and body.lstrip()[:1] in (b"[", b"{")):
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _file_error(f"not valid JSON: {exc}") from exc
        items = doc.get("data") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise _file_error('a JSON import is an array of objects or {"data": [...]}')
        rows = []
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise ValidationFailed(
                    "Import rejected: nothing was imported.",
                    errors=_errors([RowError(index, "row", "must be an object")]),
                )
            rows.append(ImportRow(index, item))
        return rows
    if media not in ("text/csv", "application/csv", "text/plain", ""):
        raise _file_error(f"unsupported content type {media!r}: send text/csv or application/json")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error("a CSV import must be UTF-8") from exc
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    line = reader.line_num + 1
    for record in reader:
        data = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in record.items()}
        rows.append(ImportRow(line, {k: (v if v != "" else None) for k, v in data.items()}))
        line = reader.line_num + 1
    return rows


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed(
        "Import rejected: nothing was imported.", errors=[{"field": "body", "message": message}]
    )


def _errors(errors: Sequence[RowError]) -> list[dict[str, str]]:
    # Each entry carries the line number as an integer next to the field and message.
    return cast(
        list[dict[str, str]], [{"line": e.line, "field": e.field, "message": e.message} for e in errors]
    )


def reject_import(errors: Sequence[RowError]) -> ValidationFailed:
    ordered = sorted(errors, key=lambda e: e.line)
    lines = sorted({e.line for e in ordered})
    return ValidationFailed(
        f"Import rejected: {len(lines)} bad row(s) (lines {', '.join(map(str, lines[:20]))}); "
        "nothing was imported.",
        errors=_errors(ordered),
    )


def text_field(data: dict[str, Any], name: str, *, required: bool, max_len: int) -> tuple[str | None, str]:
    """A stripped string field and an error message ('' when fine)."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ("must not be empty" if required else "")
    if not isinstance(value, str | int):
        return None, "must be a string"
    value = str(value).strip()
    if len(value) > max_len:
        return None, f"must be at most {max_len} characters"
    return value, ""
