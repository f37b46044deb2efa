"""Logs carrying the request id, secrets redacted before they are written: JSON lines by default,
or readable text lines for a terminal (``PAYBRIDGE_LOG_FORMAT=text``). Third-party chatter is kept
out: uvicorn's ANSI ``color_message`` copy of each message, fontTools' per-glyph subsetting lines."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Anything that looks like a credential in a free-text message is masked.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"pbk_[A-Za-z0-9_-]+"),
    re.compile(r"whsec_[A-Za-z0-9+/=]+"),
    re.compile(
        r"(?i)((?:secret|password|hash_secret|secret_key|key1|key2|access_key|token|api_key|"
        r"signature|securehash|mac|checksum|maxacthuc|id_number|notify_secret)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
    ),
]
# uvicorn passes each message twice, the second copy (``color_message``) with ANSI escapes in it.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}

# A record carrying this attribute (true) was built only from values known to hold no secret (route
# templates, known HTTP methods, numbers): the formatter skips the redaction regexes for it. The
# access line is the only such record; every other record is redacted as before.
SAFE_RECORD = "_paybridge_safe"

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}

_second: int = -1
_second_text = ""


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds, like ``datetime.isoformat(timespec="milliseconds")``; the
    date-time part is formatted once per second."""
    global _second, _second_text
    second = int(created)
    if second != _second:
        _second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = second
    millis = min(int((created - second) * 1000), 999)
    return f"{_second_text}.{millis:03d}+00:00"


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        safe = fields.get(SAFE_RECORD) is True
        message = record.getMessage()
        payload: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": _LEVELS.get(record.levelno) or record.levelname.lower(),
            "logger": record.name,
            "msg": message if safe else redact(message),
        }
        rid = request_id_var.get()
        if rid:
            payload["request_id"] = rid
        for key, value in fields.items():
            if key not in _RESERVED and key[:1] != "_":
                payload[key] = redact(value) if isinstance(value, str) and not safe else value
        if record.exc_info and record.exc_info[0] is not None:
            payload["error"] = record.exc_info[0].__name__
            payload["trace"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(payload, default=str).decode()


class TextFormatter(logging.Formatter):
    """One readable line per record for development: ``12:00:01.234 INFO  paybridge.http  message
    key=value …`` (the same fields as the JSON line, redacted the same way; a trace follows on its own
    lines)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        safe = fields.get(SAFE_RECORD) is True
        message = record.getMessage()
        clock = _timestamp(record.created)[11:23]
        level = (_LEVELS.get(record.levelno) or record.levelname.lower()).upper()
        parts = [f"{clock} {level:<7} {record.name:<22} {message if safe else redact(message)}"]
        rid = request_id_var.get()
        extras = [f"request_id={rid}"] if rid else []
        for key, value in fields.items():
            if key not in _RESERVED and key[:1] != "_":
                shown = redact(value) if isinstance(value, str) and not safe else value
                extras.append(f"{key}={shown}")
        if extras:
            parts.append("  " + " ".join(extras))
        line = "".join(parts)
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


# Loggers that say too much for an operator: drivers print SQL parameters (payer data) at DEBUG,
# fontTools logs ~25 lines per receipt PDF it subsets, uvicorn's access logger duplicates ours.
QUIET_LOGGERS = (
    "uvicorn.access",
    "httpx",
    "httpcore",
    "alembic.runtime.plugins",
    "asyncpg",
    "fontTools",
    "fontTools.subset",
    "fontTools.ttLib",
)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send every record to stderr as JSON lines (``fmt="json"``) or readable text (``"text"``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The JSON lines carry no thread or process names: don't look them up for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Driver loggers print SQL parameters (payer data) at DEBUG: never below WARNING; the others
    # are chatter (fontTools logs ~25 lines per PDF).
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
