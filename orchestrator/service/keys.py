"""API keys of ``orch serve``: ``ORCH_API_KEYS_JSON`` shaped like DropBoxMini's keys.

``{"keys": [{"value": "...", "role": "read" | "run", "name": "ci-system"}]}``; the ``name``
is recorded in the trace as the actor of the runs the key queues. ``run`` implies ``read``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import UsageError

VARIABLE = "ORCH_API_KEYS_JSON"
ROLES = ("read", "run")


@dataclass(frozen=True)
class ApiKey:
    value: str
    role: str
    name: str

    def allows(self, role: str) -> bool:
        return self.role == "run" or role == "read"


class Keys:
    """The configured keys; lookup compares every key in constant time."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = tuple(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, value: str | None) -> ApiKey | None:
        if not value:
            return None
        found = None
        for key in self._keys:
            if hmac.compare_digest(key.value.encode(), value.encode()):
                found = key
        return found


def parse_keys(text: str) -> Keys:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{VARIABLE} is not valid JSON: {exc}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f'{VARIABLE} must be an object with a "keys" list')
    keys = []
    for index, entry in enumerate(entries):
        where = f"{VARIABLE} keys[{index}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} must be an object with value, role and name")
        value, role, name = entry.get("value"), entry.get("role"), entry.get("name")
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: value must be a non-empty string")
        if role not in ROLES:
            # The given role is not repeated: a value put in the wrong field is a key.
            raise UsageError(f"{where}: role must be one of {', '.join(ROLES)}")
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{where}: name (recorded as the actor of its runs) is required")
        keys.append(ApiKey(value=value, role=str(role), name=name.strip()))
    if not keys:
        raise UsageError(f"{VARIABLE} has no keys: nobody could use the API")
    return Keys(keys)


def load_keys(environ: Mapping[str, str]) -> Keys:
    text = environ.get(VARIABLE)
    if not text:
        raise UsageError(f"set {VARIABLE} to the API keys, e.g. " + _EXAMPLE)
    return parse_keys(text)


_EXAMPLE = '{"keys": [{"value": "s3cret", "role": "run", "name": "ci-system"}]}'
