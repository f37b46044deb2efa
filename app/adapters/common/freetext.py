"""Free text on the wire: order descriptions, reasons and names a gateway shows or signs.

A payment's description comes from a portal and may hold anything: Vietnamese, ``~*!'()``,
``&=|%``, control and bidi characters. Sent as is, it breaks signatures in two ways:

- URL encoders disagree exactly on ``~ * ! ' ( )`` (PHP's ``urlencode`` encodes them all,
  Python's ``quote_plus`` keeps ``~``, Java's ``URLEncoder`` keeps ``*``, JavaScript's
  ``encodeURIComponent`` keeps ``~*!'()``), so the IPN of a gateway whose client library
  encodes differently fails our check (VNPay signs the URL-encoded query);
- a separator inside a value (``&`` and ``=`` in MoMo's ``k=v&…``, ``|`` in DVCQG's and
  ZaloPay's joined strings) shifts one field into the next.

So each gateway's free-text fields go through :func:`safe_text` with that gateway's documented
character set and length: letters and digits (unaccented unless the gateway documents
Vietnamese), single spaces, and a few punctuation marks every encoder leaves or encodes alike.
Everything else becomes a space; runs of spaces collapse; the result is cut to the limit.
"""

from __future__ import annotations

import unicodedata

from app.text import strip_diacritics

# Encoded identically by PHP urlencode, Python quote_plus, Java URLEncoder and JS
# encodeURIComponent (``-_.`` kept; ``,:/#`` always ``%XX``), and never a separator of a signed
# string (VNPay's allowed punctuation, protocols/GATEWAYS.md).
SAFE_PUNCTUATION = ".,:-_/#"


def safe_text(text: str, limit: int, *, unaccented: bool = True, punctuation: str = SAFE_PUNCTUATION) -> str:
    """``text`` reduced to letters, digits, single spaces and ``punctuation``, at most ``limit``.

    ``unaccented`` folds Vietnamese to ASCII (``Lệ phí`` → ``Le phi``) and drops every other
    non-ASCII letter; otherwise letters of any script are kept in NFC form (MoMo and ZaloPay show
    Vietnamese to the payer).
    """
    if unaccented:
        text = strip_diacritics(text)
    text = unicodedata.normalize("NFC", text)
    kept = []
    for ch in text:
        if (ch.isascii() and (ch.isalnum() or ch in punctuation)) or (not unaccented and ch.isalpha()):
            kept.append(ch)
        else:
            kept.append(" ")
    return " ".join("".join(kept).split())[:limit].strip()
