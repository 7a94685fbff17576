"""The status functions of an ``if`` condition, with GitHub Actions' meaning: ``success()``,
``failure()``, ``cancelled()`` and ``always()``. Only ``if`` conditions may use them; the
runner decides what they answer (see ``runner.status``)."""

from __future__ import annotations

import re

STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")

_MENTION = re.compile(r"\b(?:always|success|failure|cancelled)\b")


def mentions_status(text: str) -> bool:
    """Whether ``text`` may use a status function (a quick look before parsing it)."""
    return _MENTION.search(text) is not None
