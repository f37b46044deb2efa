"""Client-API catalogue bodies: revenue-type codes, banks and agencies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import examples as ex
from app.schemas.rows import NextCursor, RowOut


class RevenueTypeOut(RowOut):
    """One validity period (one version) of a revenue-type code."""

    model_config = ConfigDict(json_schema_extra={"example": ex.REVENUE_TYPE})

    id: int = Field(description="This version's row id")
    code: str = Field(description="The revenue-type code (mã nội dung kinh tế / mục lục NSNN)")
    version: int = Field(description="1 for the first period written, then 2, 3, …")
    group_code: str | None = Field(description="The group (tiểu mục) the code belongs to")
    name: str = Field(description="The code's name")
    kind: str = Field(description="phi, le_phi, phat, thue, thue_dat or khac")
    chapter: str | None = Field(description="Budget chapter (chương), when fixed")
    valid_from: date = Field(description="First day this period is in force")
    valid_to: date | None = Field(description="Last day in force; null while open-ended")
    is_current: bool = Field(description="false: superseded by a later version (kept as history)")


class RevenueTypeDetail(RevenueTypeOut):
    """The period in force, with every version of the code ever written (oldest first)."""

    model_config = ConfigDict(
        json_schema_extra={"example": {**ex.REVENUE_TYPE, "versions": [ex.REVENUE_TYPE]}}
    )

    versions: list[RevenueTypeOut] = Field(description="Every version of the code ever written, oldest first")

    @classmethod
    def with_versions(cls, row: object, history: Iterable[object]) -> RevenueTypeDetail:
        """The period ``row`` with the code's ``history`` (oldest first)."""
        return cls(**RevenueTypeOut.of(row).model_dump(), versions=[RevenueTypeOut.of(r) for r in history])


class RevenueTypeList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.REVENUE_TYPE)})

    data: list[RevenueTypeOut] = Field(description="Revenue types in force, by code")
    next_cursor: NextCursor


class BankOut(RowOut):
    model_config = ConfigDict(json_schema_extra={"example": ex.BANK})

    bin: str = Field(description="NAPAS BIN")
    sbv_code: str | None = Field(description="State Bank of Vietnam code")
    short_name: str = Field(description="The bank's usual short name")
    name: str = Field(description="The bank's full legal name")


class BankList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.BANK)})

    data: list[BankOut] = Field(description="Banks by BIN")
    next_cursor: NextCursor


class AgencyOut(RowOut):
    model_config = ConfigDict(json_schema_extra={"example": ex.AGENCY})

    code: str = Field(description="Mã định danh")
    name: str = Field(description="The agency's name")
    level: str = Field(description="province, department, district or commune")
    parent_code: str | None = Field(description="The parent agency's code; null for a root (a province)")
    path: str = Field(description="Codes from the root, '/'-separated")
    created_at: datetime = Field(description="When the agency was created")
    updated_at: datetime = Field(description="When it last changed")


class AgencyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": ex.page(ex.AGENCY)})

    data: list[AgencyOut] = Field(description="Agencies in tree order")
    next_cursor: NextCursor
