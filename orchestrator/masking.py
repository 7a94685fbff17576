"""Masking secrets in what orch keeps and shows: a step's output, logs, messages, records.

A secret is masked as itself and in the encoded forms a step most often prints it in
(base64, URL-encoding, JSON string escaping), whole and line by line; what is and is not
masked is documented in ``docs/security.md``.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
import urllib.parse
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Masker:
    """Replaces every secret value, and the encoded forms a step most often prints it in,
    with ``***``; longest first, so that no part of a longer form is left behind.

    The forms (see docs/security.md): the value; each line of a multi-line value of at
    least ``MIN_LINE`` characters; base64 (standard and URL-safe, with and without padding,
    wrapped at 76 characters as ``base64`` prints it, and of the value followed by a newline
    as ``echo | base64`` encodes it); the middle of its base64 inside a longer base64 text;
    percent-encoding (``quote``, ``quote_plus``, lower-case escapes); JSON string escaping;
    hexadecimal.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        given = sorted({secret for secret in secrets if secret})
        values = set(given)
        for secret in given:
            values.update(line for line in secret.splitlines() if len(line) >= MIN_LINE)
            values.update(encoded_forms(secret))
        self._values = sorted(values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def forms(self) -> tuple[str, ...]:
        """Every text that is masked, longest first."""
        return tuple(self._values)

    def mask(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        return text

    def mask_value(self, value: Any) -> Any:
        """``value`` (JSON-like data) with every string in it masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            return [self.mask_value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.mask_value(item) for key, item in value.items()}
        return value


MIN_LINE = 4
"""Shortest line of a multi-line secret that is masked on its own line."""
MIN_ENCODED = 6
"""Shortest encoded form that is masked: shorter ones (the hexadecimal ``61`` of a
one-letter secret) would hide unrelated text too often."""
_BASE64_LINE = 76  # GNU ``base64`` and MIME wrap their output at this width


def encoded_forms(secret: str) -> set[str]:
    """The encoded forms of ``secret`` that are masked besides the value itself."""
    data = _bytes_of(secret)
    forms: set[str] = set()
    for raw in (data, data + b"\n"):
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            forms.update((text, text.rstrip("=")))
            if len(text) > _BASE64_LINE:
                # Whole, and line by line: a step's live output is masked a line at a time.
                wrapped = textwrap.wrap(text, _BASE64_LINE)
                forms.add("\n".join(wrapped))
                forms.update(wrapped)
    forms.update(_base64_middles(data))
    quoted = {
        urllib.parse.quote(data, safe=""),
        urllib.parse.quote(data),
        urllib.parse.quote_plus(data),
        urllib.parse.quote_plus(data, safe="/"),
    }
    forms.update(quoted)
    forms.update(_PERCENT.sub(lambda m: m.group(0).lower(), text) for text in quoted)
    forms.update(
        (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], data.hex())
    )
    forms.add(data.hex().upper())
    forms.add(data.decode("utf-8", errors="replace"))  # how a step's output is read back
    return {form for form in forms if len(form) >= MIN_ENCODED and form != secret}


_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _bytes_of(secret: str) -> bytes:
    """The bytes a step prints for ``secret``: an environment value that is not UTF-8 came
    to Python with its bytes escaped as surrogates, which ``surrogateescape`` restores."""
    try:
        return secret.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return secret.encode("utf-8", errors="surrogatepass")


def _base64_middles(data: bytes) -> set[str]:
    """The base64 characters that encode only ``data``'s own bits, for each of the three
    byte offsets it can start at inside a longer text (``user:password`` encoded as one).

    A character holds 6 bits and a byte 8, so at each offset the characters at the two ends
    also hold bits of the neighbouring bytes: those vary with the text around the secret and
    are left as they are (at most 4 bits of the secret's first and last byte). When the
    secret ends the text, its last character is its own and is masked too.
    """
    middles: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = -(-8 * offset // 6)  # the first character without bits of the bytes before
        last = 8 * (offset + len(data)) // 6  # the characters before it hold no later bits
        for middle in (encoded[first:last], encoded[first:].rstrip("=")):
            if len(middle) >= MIN_ENCODED:
                middles.update((middle, middle.replace("+", "-").replace("/", "_")))
    return middles
