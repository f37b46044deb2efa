"""Revenue-type codes (versioned), banks, and the beneficiary account a payment pays into (operators
set the accounts through app.services.catalogue.beneficiaries).

Revenue types: each code has validity periods (``valid_from`` … ``valid_to``, NULL = open) that
never overlap among its current rows. Writing a period whose ``valid_from`` matches a current row
supersedes that row (a new version; the old one stays, ``is_current`` false); any other
``valid_from`` adds a period. Rows are never changed in place or deleted, so receipts that point at
an old row id still render as they were.

The statements are in :mod:`app.stores.revenue_types`, :mod:`app.stores.banks` and
:mod:`app.stores.accounts`; the rules are here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Agency, Bank, BeneficiaryAccount, RevenueType
from app.pagination import Page, decode_cursor, encode_cursor
from app.progress import Progress, no_progress
from app.services.catalogue.imports import ImportRow, RowError, reject_import, text_field
from app.stores import accounts, agencies, banks, revenue_types
from app.text import fold
from app.vntime import VN_TZ

KINDS = ("phi", "le_phi", "phat", "thue", "thue_dat", "khac")
REVENUE_CODE_RE = re.compile(r"^[0-9]{4}$")
# Vietnam keeps one offset all year (no DST): "today" for validity is the date in GMT+7.


def vn_today(now: datetime) -> date:
    return now.astimezone(VN_TZ).date()


async def get_active_revenue_types(
    session: AsyncSession, codes: Collection[str], on: date
) -> dict[str, RevenueType]:
    """The current version of each code whose validity covers ``on``; unknown or inactive codes
    are absent from the result (validity periods of one code never overlap, so there is at most one)."""
    if not codes:
        return {}
    return {row.code: row for row in await revenue_types.in_force(session, codes, on)}


async def resolve_beneficiary(
    session: AsyncSession, agency: Agency, revenue_type_code: str | None
) -> BeneficiaryAccount | None:
    """Where money for (agency, revenue type) lands.

    Rule: walk from the agency up to the root; the first level that has an account wins. Within a
    level, the account for exactly this revenue type beats that level's default (revenue type NULL).
    So a commune's own default beats its province's revenue-type-specific account.
    """
    chain = await agencies.ancestors(session, agency)
    if not chain:
        return None
    rows = await accounts.beneficiaries_of_agencies(session, [a.id for a in chain], revenue_type_code)
    by_key = {(row.agency_id, row.revenue_type_code): row for row in rows}
    for level in chain:
        if revenue_type_code is not None and (level.id, revenue_type_code) in by_key:
            return by_key[(level.id, revenue_type_code)]
        if (level.id, None) in by_key:
            return by_key[(level.id, None)]
    return None


async def resolve_beneficiaries(
    session: AsyncSession, agency: Agency, codes: Collection[str]
) -> dict[str | None, BeneficiaryAccount]:
    """:func:`resolve_beneficiary` for every code of ``codes`` and for the default (key None), in
    one query. Codes with no account anywhere up the tree are absent from the result."""
    chain = list(reversed(agencies.path_codes(agency.path)))  # the agency itself first, then up to the root
    depth = {code: i for i, code in enumerate(chain)}
    rows = await accounts.beneficiaries_at(session, chain, codes)
    by_key = {(code, row.revenue_type_code): row for row, code in rows}
    found: dict[str | None, BeneficiaryAccount] = {}
    for wanted_code in [None, *dict.fromkeys(codes)]:
        for level in sorted({code for code, _ in by_key}, key=depth.__getitem__):
            row = by_key.get((level, wanted_code)) if wanted_code is not None else None
            row = row or by_key.get((level, None))
            if row is not None:
                found[wanted_code] = row
                break
    return found


# ---------------------------------------------------------------------------- revenue types: writes


@dataclass(frozen=True)
class RevenueSpec:
    """One validity period of a code as an operator states it."""

    code: str
    group_code: str | None
    name: str
    kind: str
    chapter: str | None
    valid_from: date
    valid_to: date | None

    def matches(self, row: RevenueType) -> bool:
        return (self.group_code, self.name, self.kind, self.chapter, self.valid_from, self.valid_to) == (
            row.group_code,
            row.name,
            row.kind,
            row.chapter,
            row.valid_from,
            row.valid_to,
        )


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError("not a date")


def parse_revenue_type(code: Any, data: dict[str, Any]) -> tuple[RevenueSpec | None, list[tuple[str, str]]]:
    """Validate one period (from a PUT body or an import row); errors are (field, message)."""
    errors: list[tuple[str, str]] = []
    code = str(code or "").strip()
    if not REVENUE_CODE_RE.match(code):
        errors.append(("code", "must be a 4-digit revenue-type code (tiểu mục), e.g. 2771"))
    group_code, message = text_field(data, "group_code", required=False, max_len=16)
    if message or (group_code is not None and not REVENUE_CODE_RE.match(group_code)):
        errors.append(("group_code", message or "must be a 4-digit group code (mục), e.g. 2750"))
    name, message = text_field(data, "name", required=True, max_len=500)
    if message:
        errors.append(("name", message))
    kind = data.get("kind")
    if kind not in KINDS:
        errors.append(("kind", f"must be one of {', '.join(KINDS)}"))
    chapter, message = text_field(data, "chapter", required=False, max_len=16)
    if message or (chapter is not None and not re.fullmatch(r"[0-9]{3}", chapter)):
        errors.append(("chapter", message or "must be a 3-digit chapter (chương), e.g. 418"))
    dates: dict[str, date | None] = {}
    for key in ("valid_from", "valid_to"):
        try:
            dates[key] = _as_date(data.get(key))
        except ValueError:
            errors.append((key, "must be a date YYYY-MM-DD"))
            dates[key] = None
    valid_from, valid_to = dates["valid_from"], dates["valid_to"]
    if valid_from is None and not any(f == "valid_from" for f, _ in errors):
        errors.append(("valid_from", "is required"))
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        errors.append(("valid_to", "must not be before valid_from"))
    if errors or valid_from is None or name is None:
        return None, errors
    spec = RevenueSpec(code, group_code, name, str(kind), chapter, valid_from, valid_to)
    return spec, []


@dataclass
class _Timeline:
    """The current periods of one code, and its highest version, while a write is planned."""

    periods: list[RevenueType | RevenueSpec] = field(default_factory=list)
    max_version: int = 0


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from <= (b_to or date.max) and b_from <= (a_to or date.max)


def _plan(
    timeline: _Timeline, spec: RevenueSpec
) -> tuple[str, RevenueType | RevenueSpec | None, tuple[str, str]]:
    """("unchanged" | "replace" | "add" | "error", the period replaced, (field, message) of an error)."""
    replaced = next((p for p in timeline.periods if p.valid_from == spec.valid_from), None)
    if isinstance(replaced, RevenueType) and spec.matches(replaced):
        return "unchanged", replaced, ("", "")
    for other in timeline.periods:
        if other is not replaced and _overlaps(
            spec.valid_from, spec.valid_to, other.valid_from, other.valid_to
        ):
            where = "valid_from" if other.valid_from <= spec.valid_from else "valid_to"
            until = other.valid_to.isoformat() if other.valid_to else "open-ended"
            message = f"overlaps the period of {spec.code} valid {other.valid_from.isoformat()} to {until}"
            return "error", None, (where, message)
    return ("replace" if replaced is not None else "add"), replaced, ("", "")


async def _timelines(session: AsyncSession, codes: Collection[str]) -> dict[str, _Timeline]:
    timelines = {code: _Timeline() for code in codes}
    for code, version in (await revenue_types.max_versions(session, timelines)).items():
        timelines[code].max_version = version
    for row in await revenue_types.current(session, timelines):
        timelines[row.code].periods.append(row)
    return timelines


def _next_version(timeline: _Timeline, spec: RevenueSpec) -> dict[str, Any]:
    """The columns of the next version of a code, written as ``spec`` states it."""
    timeline.max_version += 1
    return {
        "code": spec.code,
        "version": timeline.max_version,
        "group_code": spec.group_code,
        "name": spec.name,
        "search_text": fold(f"{spec.code} {spec.name}"),
        "kind": spec.kind,
        "chapter": spec.chapter,
        "valid_from": spec.valid_from,
        "valid_to": spec.valid_to,
        "is_current": True,
    }


def _retired(replaced: RevenueType | RevenueSpec | None) -> list[RevenueType]:
    """The stored period a write supersedes (none when it adds a period)."""
    return [replaced] if isinstance(replaced, RevenueType) else []


async def upsert_revenue_type(
    db: Database, code: str, data: dict[str, Any]
) -> tuple[RevenueType, bool, list[RevenueType]]:
    """Write one validity period of a code: a new version, never an edit.
    Returns (the period as stored, whether a version was written, every version oldest first)."""
    spec, problems = parse_revenue_type(code, data)
    if spec is None:
        raise ValidationFailed(
            "Invalid revenue type.", errors=[{"field": f, "message": m} for f, m in problems]
        )
    try:
        async with db.transaction() as session:
            timeline = (await _timelines(session, [spec.code]))[spec.code]
            action, replaced, (where, message) = _plan(timeline, spec)
            if action == "error":
                raise ValidationFailed("Overlapping validity.", errors=[{"field": where, "message": message}])
            if action == "unchanged" and isinstance(replaced, RevenueType):
                row, changed = replaced, False
            else:
                new = _next_version(timeline, spec)
                (row,) = await revenue_types.write_versions(session, _retired(replaced), [new])
                changed = True
            versions = await revenue_types.history(session, spec.code)
    except IntegrityError as exc:
        raise Conflict(f"Revenue type {spec.code} was changed concurrently; retry.") from exc
    return row, changed, versions


async def import_revenue_types(
    db: Database, rows: Sequence[ImportRow], *, progress: Progress = no_progress
) -> dict[str, int]:
    """Write many periods, all or nothing (422 lists every bad line); an identical row is a no-op.

    Columns: code, group_code, name, kind, chapter, valid_from, valid_to."""
    errors: list[RowError] = []
    specs: list[tuple[int, RevenueSpec]] = []
    seen: dict[tuple[str, date], int] = {}
    for row in rows:
        spec, problems = parse_revenue_type(row.data.get("code"), row.data)
        errors.extend(RowError(row.line, f, m) for f, m in problems)
        if spec is not None and (spec.code, spec.valid_from) in seen:
            errors.append(
                RowError(
                    row.line,
                    "valid_from",
                    f"same code and valid_from as line {seen[spec.code, spec.valid_from]}",
                )
            )
        elif spec is not None:
            seen[spec.code, spec.valid_from] = row.line
            specs.append((row.line, spec))
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    try:
        async with db.transaction() as session:
            timelines = await _timelines(session, {spec.code for _, spec in specs})
            plans = []
            for line, spec in specs:
                action, replaced, (where, message) = _plan(timelines[spec.code], spec)
                if action == "error":
                    errors.append(RowError(line, where, message))
                elif action == "unchanged":
                    counts["unchanged"] += 1
                else:
                    # Planned against the file's own earlier rows too, so the file must agree with itself.
                    timeline = timelines[spec.code]
                    timeline.periods = [p for p in timeline.periods if p is not replaced] + [spec]
                    plans.append((spec, replaced))
                    counts["updated" if isinstance(replaced, RevenueType) else "created"] += 1
            if errors:
                raise reject_import(errors)
            fresh = await _timelines(session, {spec.code for spec, _ in plans})
            await progress(0, len(plans))
            retired: list[RevenueType] = []
            new: list[dict[str, Any]] = []
            for done, (spec, replaced) in enumerate(plans, start=1):
                retired += _retired(replaced)
                new.append(_next_version(fresh[spec.code], spec))
                await progress(done, len(plans))
            await revenue_types.write_versions(session, retired, new)
    except IntegrityError as exc:
        raise Conflict("Revenue types were changed concurrently; retry the import.") from exc
    return counts


# ---------------------------------------------------------------------------- revenue types: reads


async def list_revenue_types(
    db: Database,
    *,
    q: str | None = None,
    kind: str | None = None,
    active_on: date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[RevenueType]:
    """Current periods by (code, valid_from). ``q`` matches code or name, case- and
    diacritics-insensitive, every word; ``active_on`` keeps periods valid that day."""
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(
            "Unknown kind.", errors=[{"field": "kind", "message": f"must be one of {', '.join(KINDS)}"}]
        )
    after = decode_cursor(cursor, 2)
    after_key = None
    if after is not None:
        try:
            after_key = (after[0], date.fromisoformat(after[1]))
        except ValueError:
            raise ValidationFailed(
                "Invalid cursor.", errors=[{"field": "cursor", "message": "not a cursor from this list"}]
            ) from None
    async with db.session() as session:
        rows = await revenue_types.page(
            session,
            words=fold(q or "").split(),
            kind=kind,
            active_on=active_on,
            after=after_key,
            limit=limit + 1,
        )
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(last.code, last.valid_from.isoformat()))


async def get_revenue_type(
    db: Database, code: str, *, active_on: date | None, today: date
) -> tuple[RevenueType, list[RevenueType]]:
    """(the period in force, every version of the code ever written, oldest first).

    With ``active_on``: the current period valid that day, else 404. Without: the one valid today,
    else (a retired or not-yet-valid code) its latest period, so old receipts still render."""
    async with db.session() as session:
        history = await revenue_types.history(session, code.strip())
    current = [row for row in history if row.is_current]
    if not current:
        raise NotFound(f"No revenue type {code!r}.")
    on = active_on or today
    chosen = next(
        (r for r in current if r.valid_from <= on and (r.valid_to is None or r.valid_to >= on)), None
    )
    if chosen is None and active_on is not None:
        raise NotFound(f"Revenue type {code} is not in force on {active_on.isoformat()}.")
    if chosen is None:
        chosen = max(current, key=lambda r: r.valid_from)
    return chosen, history


# ---------------------------------------------------------------------------- banks


async def list_banks(db: Database, *, limit: int = 50, cursor: str | None = None) -> Page[Bank]:
    """Banks by NAPAS BIN."""
    after = decode_cursor(cursor, 1)
    async with db.session() as session:
        rows = await banks.page(session, after=after[0] if after is not None else None, limit=limit + 1)
    if len(rows) <= limit:
        return Page(rows, None)
    return Page(rows[:limit], encode_cursor(rows[limit - 1].bin))


_BIN = re.compile(r"[0-9]{6}")


async def import_banks(
    db: Database, rows: Sequence[ImportRow], *, progress: Progress = no_progress
) -> dict[str, int]:
    """Upsert banks by NAPAS BIN from a file, all or nothing (a bad row rejects the file, naming
    every bad line); an identical row changes nothing. Columns: bin, sbv_code, short_name, name."""
    errors: list[RowError] = []
    wanted: dict[str, tuple[str | None, str, str]] = {}
    for row in rows:
        bin_, bin_error = text_field(row.data, "bin", required=True, max_len=6)
        if bin_ is not None and not _BIN.fullmatch(bin_):
            bin_error = "must be 6 digits"
        sbv, sbv_error = text_field(row.data, "sbv_code", required=True, max_len=8)
        short, short_error = text_field(row.data, "short_name", required=True, max_len=64)
        name, name_error = text_field(row.data, "name", required=True, max_len=300)
        for field_name, message in (
            ("bin", bin_error),
            ("sbv_code", sbv_error),
            ("short_name", short_error),
            ("name", name_error),
        ):
            if message:
                errors.append(RowError(row.line, field_name, message))
        if bin_ is not None and bin_ in wanted and not bin_error:
            errors.append(RowError(row.line, "bin", "appears twice in the file"))
        if bin_ and short and name and not (bin_error or sbv_error):
            wanted[bin_] = (sbv, short, name)
    if errors:
        raise reject_import(errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    async with db.transaction() as session:
        existing = await banks.by_bins(session, wanted)
        new: list[dict[str, Any]] = []
        await progress(0, len(wanted))
        for done, (bin_, (sbv, short, name)) in enumerate(wanted.items(), start=1):
            await progress(done, len(wanted))
            bank = existing.get(bin_)
            if bank is None:
                new.append({"bin": bin_, "sbv_code": sbv, "short_name": short, "name": name})
                counts["created"] += 1
            elif (bank.sbv_code, bank.short_name, bank.name) == (sbv, short, name):
                counts["unchanged"] += 1
            else:
                bank.sbv_code, bank.short_name, bank.name = sbv, short, name  # written on commit
                counts["updated"] += 1
        banks.add_all(session, new)
    return counts
