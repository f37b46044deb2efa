"""A body read straight off a stored row."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field


class RowOut(BaseModel):
    """A body whose every field is the row's attribute of the same name."""

    @classmethod
    def of(cls, row: object) -> Self:
        return cls.model_validate(row, from_attributes=True)


# The cursor every listing answers with.
NextCursor = Annotated[
    str | None, Field(description="Pass as `cursor` to get the next page; null on the last page")
]
