"""The pages behind every problem ``type`` URI: ``GET /problems/{code}`` explains one error code and
its fix (HTML for a browser, JSON or Markdown on request); ``GET /problems`` lists them all."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from app.errors import NotFound, problem_type
from app.problems import PROBLEM_DOCS, ProblemDoc

router = APIRouter(prefix="/problems", tags=["operations"])

_env = Environment(loader=PackageLoader("app", "templates"), autoescape=select_autoescape(["html"]))
Format = Literal["html", "json", "md"]
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Cache-Control": "public, max-age=3600",
}


def _format(request: Request, requested: Format | None) -> Format:
    if requested:
        return requested
    accept = request.headers.get("accept", "")
    if "text/markdown" in accept:
        return "md"
    if "application/json" in accept and "text/html" not in accept:
        return "json"
    return "html"


def _render(docs: list[ProblemDoc], fmt: Format, *, one: bool) -> Response:
    if fmt == "json":
        items = [doc.as_json(problem_type(doc.code)) for doc in docs]
        return JSONResponse(items[0] if one else {"data": items})
    if fmt == "md":
        text = "\n".join(doc.as_markdown(problem_type(doc.code)) for doc in docs)
        return Response(text, media_type="text/markdown; charset=utf-8")
    html = _env.get_template("problem.html").render(docs=docs, one=one, type_of=problem_type)
    return HTMLResponse(html, headers=PAGE_HEADERS)


FormatQuery = Annotated[
    Format | None, Query(description="html, json or md; without it, chosen from the Accept header")
]


@router.get("", summary="Every error code and how to fix it")
async def list_problems(request: Request, format: FormatQuery = None) -> Response:
    """All stable error `code`s paybridge answers with, what each means and how to fix it."""
    docs = sorted(PROBLEM_DOCS.values(), key=lambda d: (d.status, d.code))
    return _render(docs, _format(request, format), one=False)


@router.get("/{code}", summary="What an error code means and how to fix it")
async def get_problem(
    request: Request,
    code: Annotated[str, Path(max_length=64, description="The `code` of a problem, e.g. duplicate_bill")],
    format: FormatQuery = None,
) -> Response:
    """The page a problem's `type` URI points to: the error, its HTTP status and the fix."""
    doc = PROBLEM_DOCS.get(code)
    if doc is None:
        raise NotFound(f"No error code {code!r}; GET /problems lists them all.")
    return _render([doc], _format(request, format), one=True)
