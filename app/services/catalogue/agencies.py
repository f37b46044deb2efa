"""Agencies: a tree keyed by mã định danh, stored with a materialised path (``/ROOT/…/CODE/``).

A subtree is one prefix match on ``path``; moving a node re-paths its subtree in one UPDATE. The
statements are in :mod:`app.stores.agencies`; the rules (valid codes, names and levels, where a
node may move, which target applies, how an import is applied) are here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Agency, AgencyTarget
from app.pagination import Page, decode_cursor, encode_cursor
from app.progress import Progress, no_progress
from app.services.catalogue.imports import ImportRow, RowError, reject_import, text_field
from app.stores import agencies as store
from app.stores.agencies import path_codes
from app.text import fold

# Mã định danh (Decision 20/2020/QĐ-TTg): four dot-separated groups, e.g. 000.00.31.H56.
CODE_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$")
LEVELS = ("province", "department", "district", "commune")
NAME_MAX = 500


# ---------------------------------------------------------------------------- tree helpers


def normalise_code(code: str) -> str:
    return code.strip().upper()


def code_error(code: str) -> str:
    return "" if CODE_RE.match(code) else "must be a mã định danh like 000.00.31.H56"


async def require_agency(session: AsyncSession, code: str) -> Agency:
    agency = await store.by_code(session, normalise_code(code))
    if agency is None:
        raise NotFound(f"No agency {code!r}.")
    return agency


# ---------------------------------------------------------------------------- operator actions


def _check_fields(name: str | None, level: str | None) -> list[dict[str, str]]:
    errors = []
    if name is not None and not name.strip():
        errors.append({"field": "name", "message": "must not be empty"})
    elif name is not None and len(name.strip()) > NAME_MAX:
        errors.append({"field": "name", "message": f"must be at most {NAME_MAX} characters"})
    if level is not None and level not in LEVELS:
        errors.append({"field": "level", "message": f"must be one of {', '.join(LEVELS)}"})
    return errors


async def create_agency(db: Database, code: str, name: str, level: str, parent_code: str | None) -> Agency:
    """Create a node under ``parent_code`` (or a root). Duplicate code → 409, unknown parent → 422."""
    code = normalise_code(code)
    errors = _check_fields(name, level)
    if message := code_error(code):
        errors.insert(0, {"field": "code", "message": message})
    if parent_code is not None and (message := code_error(normalise_code(parent_code))):
        errors.append({"field": "parent_code", "message": message})
    if errors:
        raise ValidationFailed("Invalid agency.", errors=errors)
    try:
        async with db.transaction() as session:
            if await store.by_code(session, code) is not None:
                raise Conflict(f"Agency {code} already exists.")
            parent = None
            if parent_code is not None:
                parent = await store.by_code(session, normalise_code(parent_code))
                if parent is None:
                    raise ValidationFailed(
                        "Unknown parent agency.",
                        errors=[{"field": "parent_code", "message": f"no agency {parent_code!r}"}],
                    )
            agency = await store.create(
                session,
                {
                    "code": code,
                    "name": name.strip(),
                    "level": level,
                    "parent_id": parent.id if parent else None,
                    "path": (parent.path if parent else "/") + code + "/",
                },
            )
    except IntegrityError as exc:
        raise Conflict(f"Agency {code} already exists.") from exc
    return agency


async def update_agency(db: Database, code: str, changes: dict[str, Any]) -> Agency:
    """Change name, level or parent (``parent_code: null`` makes a root); moving re-paths the subtree."""
    errors = _check_fields(changes.get("name"), changes.get("level"))
    if "name" in changes and changes["name"] is None:
        errors.append({"field": "name", "message": "must not be empty"})
    if "level" in changes and changes["level"] is None:
        errors.append({"field": "level", "message": f"must be one of {', '.join(LEVELS)}"})
    if errors:
        raise ValidationFailed("Invalid agency.", errors=errors)
    async with db.transaction() as session:
        agency = await require_agency(session, code)
        values: dict[str, Any] = {}
        if changes.get("name") is not None:
            values["name"] = changes["name"].strip()
        if changes.get("level") is not None:
            values["level"] = changes["level"]
        new_path = None
        if "parent_code" in changes:
            parent, path = await _new_place(session, agency, changes["parent_code"])
            if path != agency.path:
                values["parent_id"], new_path = (parent.id if parent else None), path
        await store.update_node(session, agency, values, new_path=new_path)
    async with db.session() as session:
        return await require_agency(session, agency.code)


async def _new_place(
    session: AsyncSession, agency: Agency, parent_code: str | None
) -> tuple[Agency | None, str]:
    """The new parent (None: a root) and the path ``agency`` gets under it; 422 for an unknown
    parent or one in the agency's own subtree."""
    parent = None
    if parent_code is not None:
        parent = await store.by_code(session, normalise_code(parent_code))
        if parent is None:
            raise ValidationFailed(
                "Unknown parent agency.",
                errors=[{"field": "parent_code", "message": f"no agency {parent_code!r}"}],
            )
        if parent.path.startswith(agency.path):
            raise ValidationFailed(
                "An agency cannot move under itself or its own subtree.",
                errors=[{"field": "parent_code", "message": "would create a cycle"}],
            )
    return parent, (parent.path if parent else "/") + agency.code + "/"


async def list_agencies(
    db: Database,
    *,
    scope: Sequence[str] | None = None,
    parent_code: str | None = None,
    under: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Agency]:
    """Agencies in tree order (by path). ``scope``: only these subtrees (a client's view);
    ``parent_code``: direct children; ``under``: a subtree; ``q``: code or name, folded."""
    after = decode_cursor(cursor, 1)
    needle = fold(q) if q else ""
    if scope is not None and not scope:
        return Page([], None)
    async with db.session() as session:
        parent_id = None
        if parent_code is not None:
            parent = await store.by_code(session, normalise_code(parent_code))
            if parent is None:
                return Page([], None)
            parent_id = parent.id
        under_path = None
        if under is not None:
            top = await store.by_code(session, normalise_code(under))
            if top is None:
                return Page([], None)
            under_path = top.path
        last = after[0] if after else None
        found: list[Agency] = []
        # Names are matched folded (diacritics-insensitive) in Python, a batch at a time.
        while True:
            batch = await store.batch(
                session,
                scope=scope,
                parent_id=parent_id,
                under=under_path,
                after=last,
                size=max(limit + 1, 200),
            )
            for agency in batch:
                if not needle or needle in fold(f"{agency.code} {agency.name}"):
                    found.append(agency)
                    if len(found) > limit:
                        return Page(found[:limit], encode_cursor(found[limit - 1].path))
            if len(batch) < max(limit + 1, 200):
                return Page(found, None)
            last = batch[-1].path


async def set_target(db: Database, code: str, year: int, rate: Decimal) -> AgencyTarget:
    """Set (or replace) an agency's online-payment-rate target for a year."""
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValidationFailed(
            "Invalid target.", errors=[{"field": "online_payment_rate", "message": "must be between 0 and 1"}]
        )
    async with db.transaction() as session:
        agency = await require_agency(session, code)
        return await store.put_target(session, agency.id, year, rate)


async def list_targets(db: Database, code: str) -> list[AgencyTarget]:
    """The agency's own targets, by year."""
    async with db.session() as session:
        agency = await require_agency(session, code)
        return await store.targets_of(session, agency.id)


async def target_for(session: AsyncSession, agency: Agency, year: int) -> Decimal | None:
    """The target that applies to an agency in a year: its own, else the nearest ancestor's."""
    chain = await store.ancestors(session, agency)
    by_agency = await store.targets_in(session, [a.id for a in chain], year)
    return next((by_agency[a.id] for a in chain if a.id in by_agency), None)


# ---------------------------------------------------------------------------- bulk import


@dataclass
class _Node:
    id: int | None
    parent: str | None
    path: str
    name: str
    level: str


async def import_agencies(
    db: Database, rows: Sequence[ImportRow], *, progress: Progress = no_progress
) -> dict[str, int]:
    """Upsert agencies from a file, all or nothing: any bad row → 422 listing every bad line.

    Columns: code, name, level, parent_code (may name an agency earlier or later in the file).
    An existing code is updated (a new parent moves its subtree); an identical row changes nothing.
    """
    errors: list[RowError] = []
    wanted: dict[str, tuple[int, str, str, str | None]] = {}
    for row in rows:
        code_raw, message = text_field(row.data, "code", required=True, max_len=64)
        code = normalise_code(code_raw or "")
        if message or (message := code_error(code)):
            errors.append(RowError(row.line, "code", message))
        name, name_msg = text_field(row.data, "name", required=True, max_len=NAME_MAX)
        if name_msg:
            errors.append(RowError(row.line, "name", name_msg))
        level = row.data.get("level")
        if level not in LEVELS:
            errors.append(RowError(row.line, "level", f"must be one of {', '.join(LEVELS)}"))
        parent_raw, parent_msg = text_field(row.data, "parent_code", required=False, max_len=64)
        parent = normalise_code(parent_raw) if parent_raw else None
        if parent_msg or (parent and (parent_msg := code_error(parent))):
            errors.append(RowError(row.line, "parent_code", parent_msg))
        if code and not message and code in wanted:
            errors.append(RowError(row.line, "code", f"duplicate of line {wanted[code][0]}"))
        elif code and not message:
            wanted[code] = (row.line, name or "", str(level), parent)
    async with db.transaction() as session:
        nodes = {r.code: _Node(r.id, None, r.path, r.name, r.level) for r in await store.nodes(session)}
        for node in nodes.values():
            codes = path_codes(node.path)
            node.parent = codes[-2] if len(codes) > 1 else None
        final = {code: node.parent for code, node in nodes.items()}
        final.update({code: spec[3] for code, spec in wanted.items()})
        for code, (line, _, _, parent) in wanted.items():
            if parent is not None and parent not in final:
                errors.append(RowError(line, "parent_code", f"unknown parent agency {parent!r}"))
            elif _has_cycle(code, final):
                errors.append(RowError(line, "parent_code", "would create a cycle"))
        if errors:
            raise reject_import(errors)
        return await _apply_import(session, wanted, nodes, final, progress)


def _has_cycle(code: str, parents: dict[str, str | None]) -> bool:
    seen = {code}
    current = parents.get(code)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _depth(code: str, parents: dict[str, str | None]) -> int:
    depth, current = 0, parents.get(code)
    while current is not None:
        depth, current = depth + 1, parents.get(current)
    return depth


async def _apply_import(
    session: AsyncSession,
    wanted: dict[str, tuple[int, str, str, str | None]],
    nodes: dict[str, _Node],
    final: dict[str, str | None],
    progress: Progress,
) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    total, done = len(wanted), 0
    await progress(0, total)
    # A level at a time, parents first, so every parent has its id and final path when needed.
    by_depth: dict[int, list[str]] = {}
    for code in wanted:
        by_depth.setdefault(_depth(code, final), []).append(code)
    for depth in sorted(by_depth):
        new: list[dict[str, Any]] = []
        for code in by_depth[depth]:
            _, name, level, parent = wanted[code]
            parent_node = nodes[parent] if parent else None
            path = (parent_node.path if parent_node else "/") + code + "/"
            if code not in nodes:
                parent_id = parent_node.id if parent_node else None
                new.append({"code": code, "name": name, "level": level, "parent_id": parent_id, "path": path})
            elif await _update_existing(session, nodes, code, wanted[code], parent_node, path):
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
            done += 1
            await progress(done, total)
        # The level's new rows are written in one flush, after its updates (as the ORM did).
        created = await store.insert_many(session, new)
        for agency in created:
            nodes[agency.code] = _Node(agency.id, final[agency.code], agency.path, agency.name, agency.level)
        counts["created"] += len(created)
    return counts


async def _update_existing(
    session: AsyncSession,
    nodes: dict[str, _Node],
    code: str,
    spec: tuple[int, str, str, str | None],
    parent_node: _Node | None,
    path: str,
) -> bool:
    """Bring an existing agency in line with its row; False when it already was."""
    _, name, level, parent = spec
    node = nodes[code]
    if (node.path, node.name, node.level) == (path, name, level):
        return False
    values: dict[str, Any] = {"name": name, "level": level}
    if node.path != path:
        values["parent_id"] = parent_node.id if parent_node else None
        await store.move_subtree(session, node.path, path)
        old = node.path
        for other in nodes.values():
            if other.path.startswith(old):
                other.path = path + other.path[len(old) :]
    await store.update_by_code(session, code, values)
    node.name, node.level, node.parent = name, level, parent
    return True
