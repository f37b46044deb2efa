"""Gateways' transaction files: column mappings (built in per gateway, overridable) and a strict
CSV parser that rejects a malformed file whole, naming the line of every problem."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from typing import Any

from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.registry import SPECS
from app.errors import PayloadTooLarge, ProblemError, ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS = 100
_AMOUNT = re.compile(r"^\d{1,3}([.,]\d{3})+$|^\d+$")


class ReconciliationFileInvalid(ProblemError):
    status, code, title = 422, "reconciliation_file_invalid", "Malformed reconciliation file"


# Each gateway's built-in layout, from its spec (app/adapters/<name>/__init__.py).
BUILT_IN: dict[str, ColumnMapping] = {spec.name: spec.reconciliation for spec in SPECS}


def mapping_for(provider: str, overrides: dict[str, Any] | None = None) -> ColumnMapping:
    """The built-in mapping of a gateway, with an operator's overrides applied."""
    base = BUILT_IN.get(provider)
    overrides = dict(overrides or {})
    if "success" in overrides:
        overrides["success"] = frozenset(str(v) for v in overrides["success"] or ())
    allowed = set(ColumnMapping.__dataclass_fields__)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValidationFailed(
            f"Unknown mapping keys: {', '.join(unknown)}.",
            errors=[{"field": f"mapping.{k}", "message": "unknown key"} for k in unknown],
        )
    try:
        mapping = replace(base, **overrides) if base else ColumnMapping(**overrides)
    except TypeError:
        raise ValidationFailed(
            f"No built-in column mapping for {provider!r}; send one with at least 'amount'.",
            errors=[{"field": "mapping", "message": "required for this provider"}],
        ) from None
    if not (mapping.reference or mapping.transaction_id):
        raise ValidationFailed(
            "A mapping needs a reference or a transaction_id column.",
            errors=[{"field": "mapping", "message": "reference or transaction_id required"}],
        )
    if mapping.amount_divisor < 1:
        raise ValidationFailed(errors=[{"field": "mapping.amount_divisor", "message": "must be ≥ 1"}])
    return mapping


@dataclass(frozen=True)
class FileRow:
    line: int
    reference: str | None
    transaction_id: str | None
    amount: int
    status: str | None
    paid: bool
    raw: dict[str, str]

    @property
    def key(self) -> str:
        return f"ref:{self.reference}" if self.reference else f"txn:{self.transaction_id}"


def _amount(text: str, divisor: int) -> int | None:
    text = text.strip().replace(" ", "")
    if not _AMOUNT.match(text):
        return None
    value = int(text.replace(".", "").replace(",", ""))
    return value // divisor if value % divisor == 0 else None


def parse_file(content: bytes, mapping: ColumnMapping) -> list[FileRow]:
    """Parse and check a whole file; raise :class:`ReconciliationFileInvalid` listing every bad line."""
    if len(content) > MAX_BYTES:
        raise PayloadTooLarge(f"A reconciliation file may be at most {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ReconciliationFileInvalid(
            "The file is not UTF-8 text.",
            errors=[{"field": f"line {line}", "message": "not UTF-8"}],
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)  # gateways export with commas, semicolons or tabs
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    errors: list[dict[str, str]] = []

    def fail(line: int, message: str) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append({"field": f"line {line}", "message": message})

    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ReconciliationFileInvalid(
            "The file is empty.", errors=[{"field": "line 1", "message": "no header row"}]
        ) from None
    index = {h.lower(): i for i, h in enumerate(header)}
    wanted = {
        "amount": mapping.amount,
        "reference": mapping.reference,
        "transaction_id": mapping.transaction_id,
        "status": mapping.status,
    }
    for column in (c for c in wanted.values() if c):
        if column.lower() not in index:
            fail(1, f"missing column {column!r}")
    if errors:
        raise ReconciliationFileInvalid("The header lacks columns of the mapping.", errors=errors)
    pattern = re.compile(mapping.reference_pattern) if mapping.reference_pattern else None
    rows: list[FileRow] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                fail(line, f"{len(values)} fields where the header has {len(header)}")
                continue
            raw = dict(zip(header, (v.strip() for v in values), strict=True))

            def cell(name: str | None, raw_values: list[str] = values) -> str | None:
                return raw_values[index[name.lower()]].strip() or None if name else None

            reference = cell(mapping.reference)
            if reference and pattern:
                found = pattern.search(reference)
                reference = found.group(1) if found else None
            txn = cell(mapping.transaction_id)
            if not reference and not txn:
                fail(line, "neither our reference nor the gateway's transaction id")
                continue
            amount = _amount(cell(mapping.amount) or "", mapping.amount_divisor)
            if amount is None:
                fail(line, f"amount {cell(mapping.amount)!r} is not a whole number of VND")
                continue
            status = cell(mapping.status)
            row = FileRow(
                line, reference, txn, amount, status, mapping.status is None or status in mapping.success, raw
            )
            if row.key in seen:
                fail(line, f"the same transaction as line {seen[row.key]}")
                continue
            seen[row.key] = line
            rows.append(row)
            if len(rows) > MAX_ROWS:
                fail(line, f"more than {MAX_ROWS} rows")
                break
    except csv.Error as exc:
        fail(reader.line_num, f"unreadable CSV: {exc}")
    if errors:
        raise ReconciliationFileInvalid(f"{len(errors)} line(s) of the file are malformed.", errors=errors)
    return rows
