"""Values no column can hold, refused at the input edge (422 ``validation_error`` naming the field)
before any route sees them, instead of failing deep in a database driver or a JSON encoder.

The rule, for every request outside the gateway-facing routes (which answer in the gateway's own
format and are checked there):

- no NUL character (U+0000) in the path, in a query parameter's name or value, or in any string or
  object key of a JSON body (PostgreSQL ``text`` and ``jsonb`` cannot store it);
- no lone UTF-16 surrogate (``"\\ud800"`` without its pair) in a JSON string or key: it is not
  Unicode text and cannot be encoded as UTF-8;
- every JSON number is finite (no ``NaN``, ``Infinity`` or ``1e400``) and within PostgreSQL
  ``bigint`` (-2^63 … 2^63-1), wherever it is, ``metadata`` included. Floats too: ``jsonb`` gives
  ``1.5e300`` back as a 301-digit integer, which no 64-bit JSON encoder can write again.

Cost: a JSON body is searched once for the byte patterns that can carry such a value (a ``\\u0000``
or surrogate escape, 19 or more digits in a row, an exponent, ``NaN``/``Infinity``); only a body that
has one is parsed (with the same :func:`json.loads` the routes use) and walked to name the field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1

# What could hide a refused value in JSON text; a hit only means "look closer". Plain substring
# tests (a regex over the whole body cost ~20 µs per create; these cost ~1 µs).
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: maybe beyond bigint
_LARGE_EXPONENT = (b"0e00", b"0e+00")  # 1e19 and up (1e-300 is fine)
_SURROGATE = re.compile("[\ud800-\udfff]")

NUL_MESSAGE = "must not contain a NUL character (U+0000)"
SURROGATE_MESSAGE = "must be valid Unicode text (a lone UTF-16 surrogate is not)"
RANGE_MESSAGE = f"must be a number between {BIGINT_MIN} and {BIGINT_MAX}"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    if _SURROGATE.search(text) is not None:
        return SURROGATE_MESSAGE
    return None


def target_problems(path: str, query_string: bytes) -> list[dict[str, str]]:
    """NUL characters in the (percent-decoded) path or in a query parameter's name or value."""
    errors: list[dict[str, str]] = []
    if "\x00" in path:
        errors.append({"field": "path", "message": NUL_MESSAGE})
    if query_string and (b"%00" in query_string or b"\x00" in query_string):
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name:
                errors.append({"field": "query", "message": "parameter names " + NUL_MESSAGE})
            elif "\x00" in value:
                errors.append({"field": name, "message": NUL_MESSAGE})
    return errors


def _join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _suspect(body: bytes) -> bool:
    if b"\\u" in body and _ESCAPE.search(body) is not None:
        return True
    if b"NaN" in body or b"Infinity" in body:
        return True
    shape = body.translate(_DIGITS_TO_ZERO)
    return _LONG_NUMBER in shape or any(e in shape for e in _LARGE_EXPONENT)


def json_body_problems(body: bytes, *, max_errors: int = 20) -> list[dict[str, str]]:
    """The fields of a JSON body that no column can hold (empty when none, or when the body is not
    JSON at all: the route's own validation answers that)."""
    if not body or not _suspect(body):
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or absurdly deep): the route refuses it itself
        return []
    errors: list[dict[str, str]] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack and len(errors) < max_errors:
        where, value = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem is not None:
                errors.append({"field": where or "body", "message": problem})
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not BIGINT_MIN <= value <= BIGINT_MAX:
                errors.append({"field": where or "body", "message": RANGE_MESSAGE})
        elif isinstance(value, float):
            if not (math.isfinite(value) and BIGINT_MIN <= value <= BIGINT_MAX):
                errors.append({"field": where or "body", "message": RANGE_MESSAGE})
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                problem = _text_problem(key)
                if problem is not None:
                    errors.append({"field": where or "body", "message": "keys " + problem})
                    continue
                stack.append((_join(where, key), item))
        elif isinstance(value, list):
            stack.extend((_join(where, i), item) for i, item in reversed(list(enumerate(value))))
    return errors


def is_json(content_type: bytes | None) -> bool:
    """``application/json`` and ``application/<anything>+json`` (parameters ignored)."""
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
