"""Logs an operator can read: `PAYBRIDGE_LOG_FORMAT=text` beside the JSON lines, secrets redacted in
both, and no third-party chatter (uvicorn's ANSI `color_message`, fontTools' subsetting lines)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from app.config import Settings
from app.logging import configure_logging, request_id_var


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_format_is_one_readable_line_with_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("paybridge.demo").info(
            "POST /v1/payments 201", extra={"duration_ms": 3.2, "auth": "Bearer pbk_secretvalue"}
        )
    finally:
        request_id_var.reset(token)
    [line] = capsys.readouterr().err.splitlines()
    assert not line.startswith("{")
    assert " INFO    paybridge.demo         POST /v1/payments 201  request_id=req-42 duration_ms=3.2" in line
    assert "pbk_secretvalue" not in line and "[REDACTED]" in line


def test_text_format_prints_the_trace_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    try:
        raise RuntimeError("hash_secret=abc123 leaked")
    except RuntimeError:
        logging.getLogger("paybridge.errors").exception("unhandled error")
    err = capsys.readouterr().err
    assert "ERROR   paybridge.errors       unhandled error" in err
    assert "Traceback" in err and "abc123" not in err


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_uvicorn_color_message_is_not_in_our_lines(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", fmt)
    # A live-server test earlier in the run may have left uvicorn's logger at WARNING.
    uvicorn_log = logging.getLogger("uvicorn.error")
    level = uvicorn_log.level
    uvicorn_log.setLevel(logging.INFO)
    # What uvicorn does: the plain message, plus an ANSI-coloured copy as an extra.
    uvicorn_log.info(
        "Uvicorn running on %s", "http://127.0.0.1:8000", extra={"color_message": "\x1b[1m%s\x1b[0m"}
    )
    uvicorn_log.setLevel(level)
    [line] = capsys.readouterr().err.splitlines()
    assert "\x1b" not in line and "color_message" not in line
    if fmt == "json":
        assert orjson.loads(line)["msg"] == "Uvicorn running on http://127.0.0.1:8000"


def test_fonttools_subsetting_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    from fpdf import FPDF

    from app.services.after_payment import receipt_pdf

    configure_logging("DEBUG", "json")
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(receipt_pdf.FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", size=12)
    pdf.cell(text="Biên lai thu tiền phí, lệ phí")
    assert pdf.output()[:4] == b"%PDF"
    logged = [orjson.loads(line)["logger"] for line in capsys.readouterr().err.splitlines()]
    assert [name for name in logged if name.startswith("fontTools")] == []


def test_log_format_setting_takes_only_text_or_json() -> None:
    assert Settings(log_format="text").log_format == "text"
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")
