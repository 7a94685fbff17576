"""API keys and roles from ``DROPBOX_API_KEYS_JSON`` (and the deprecated shared key)."""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.dropboxmini.protocol import (
    KEY_HEADER,
    ArtifactRecord,
    ConfigError,
    Role,
    UnauthorizedError,
)

log = logging.getLogger("orchestrator.dropboxmini")


@dataclass(frozen=True)
class ApiKey:
    value: str = field(repr=False)
    role: Role
    max_artifact_age_hours: float | None = None

    def may_read(self, record: ArtifactRecord, now: datetime | None = None) -> bool:
        if self.role is not Role.AGENT or self.max_artifact_age_hours is None:
            return True
        return not record.older_than(self.max_artifact_age_hours, now)


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[ApiKey, ...]

    def lookup(self, presented: str | None) -> ApiKey:
        if not presented:
            raise UnauthorizedError(f"send your API key in the {KEY_HEADER} header")
        found: ApiKey | None = None
        for key in self.keys:
            if hmac.compare_digest(key.value.encode(), presented.encode()):
                found = key
        if found is None:
            raise UnauthorizedError(f"the API key in {KEY_HEADER} is not known to this server")
        return found


def parse_keys_json(text: str) -> tuple[ApiKey, ...]:
    """Keys from ``DROPBOX_API_KEYS_JSON``: ``{"keys": [{"value", "role", ...}]}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DROPBOX_API_KEYS_JSON is not valid JSON: {exc.msg}") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError('DROPBOX_API_KEYS_JSON must be an object {"keys": [...]}')
    keys: list[ApiKey] = []
    for index, entry in enumerate(entries):
        where = f"DROPBOX_API_KEYS_JSON keys[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be an object")
        value, role, age = entry.get("value"), entry.get("role"), entry.get("maxArtifactAgeHours")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}.value must be a non-empty string")
        try:
            parsed_role = Role(str(role))
        except ValueError:
            raise ConfigError(f"{where}.role must be read, readwrite or agent") from None
        keys.append(ApiKey(value, parsed_role, _age_limit(where, parsed_role, age)))
    return tuple(keys)


def _age_limit(where: str, role: Role, age: object) -> float | None:
    """A key's ``maxArtifactAgeHours``: a positive window for an agent key; ``0`` or absent
    (no limit) on the others, as in the contract's own example."""
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int | float) or not math.isfinite(age)
    ):
        raise ConfigError(f"{where}.maxArtifactAgeHours must be a number of hours, got {age!r}")
    if age is not None and age < 0:
        raise ConfigError(f"{where}.maxArtifactAgeHours must not be negative, got {age!r}")
    if role is Role.AGENT:
        if age is None:
            raise ConfigError(
                f"{where}: an agent key needs maxArtifactAgeHours, a positive number of hours "
                "(its reads see only artifacts younger than that)"
            )
        if age == 0:
            raise ConfigError(
                f"{where}.maxArtifactAgeHours must be a positive number of hours for an agent "
                "key, got 0"
            )
        return float(age)
    if age:
        log.warning(
            "%s: maxArtifactAgeHours %s has no effect on a %s key (only agent keys are "
            "age-limited)",
            where,
            f"{age:g}",
            role.value,
        )
    return None


def load_keys(environ: Mapping[str, str]) -> KeyRing:
    """The key ring from the environment; the legacy shared key only when it stands alone."""
    keys_json = environ.get("DROPBOX_API_KEYS_JSON", "").strip()
    shared = environ.get("DROPBOX_SHARED_KEY", "").strip()
    keys = parse_keys_json(keys_json) if keys_json else ()
    if shared and not keys:
        log.warning(
            "DROPBOX_SHARED_KEY is deprecated: it acts as one readwrite key; "
            "move to DROPBOX_API_KEYS_JSON"
        )
        keys = (ApiKey(shared, Role.READWRITE),)
    elif shared:
        log.warning("DROPBOX_SHARED_KEY is ignored because DROPBOX_API_KEYS_JSON defines keys")
    return KeyRing(keys)
