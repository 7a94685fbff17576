"""Health steps: poll a JSON endpoint until every expected field matches.

A deployment is complete only when the target answers its health endpoint with the expected
runtime identity, so a mismatch after the timeout is a failure that says what differed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from orchestrator.durations import parse_duration
from orchestrator.runner.outcome import Outcome

if TYPE_CHECKING:
    import httpx

_KEYS = {"url", "expect", "timeout", "interval", "headers"}


class HealthSpecError(ValueError):
    pass


@dataclass(frozen=True)
class HealthSpec:
    """A health step's check: the URL, what the answer must hold, and how long to try."""

    url: str
    expect: Mapping[str, Any]
    timeout_seconds: float = 60.0
    interval_seconds: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict)


def duration(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        return parse_duration(str(value))
    except ValueError:
        raise HealthSpecError(f"{value!r} is not a duration: write 30s, 2m or 1h") from None


def parse_spec(text: str) -> HealthSpec:
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise HealthSpecError(f"the health step's body is not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise HealthSpecError("the health step's body must be a YAML map with url and expect")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise HealthSpecError(
            f"unknown key(s) {', '.join(unknown)}: use {', '.join(sorted(_KEYS))}"
        )
    url, expect = data.get("url"), data.get("expect", {})
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise HealthSpecError("url must be an http:// or https:// address")
    if not isinstance(expect, dict):
        raise HealthSpecError("expect must be a map of JSON fields to expected values")
    headers = data.get("headers", {})
    if not isinstance(headers, dict):
        raise HealthSpecError("headers must be a map")
    return HealthSpec(
        url=url,
        expect=expect,
        timeout_seconds=duration(data.get("timeout", 60)),
        interval_seconds=duration(data.get("interval", 1)),
        headers={str(k): str(v) for k, v in headers.items()},
    )


def mismatches(expect: Mapping[str, Any], actual: object, prefix: str = "") -> list[str]:
    """Fields of ``expect`` that ``actual`` does not match, as ``field: wanted X, got Y``."""
    problems: list[str] = []
    for key, wanted in expect.items():
        name = f"{prefix}{key}"
        got = actual.get(key, _MISSING) if isinstance(actual, Mapping) else _MISSING
        if isinstance(wanted, Mapping):
            problems.extend(mismatches(wanted, got, f"{name}."))
        elif got is _MISSING:
            problems.append(f"{name}: wanted {wanted!r}, field missing")
        elif not _same(wanted, got):
            problems.append(f"{name}: wanted {wanted!r}, got {got!r}")
    return problems


_MISSING = object()


def _same(wanted: object, got: object) -> bool:
    if wanted == got:
        return True
    # Platform numbers are written zero-padded ("0018") and compare as integers.
    as_ints = _as_int(wanted), _as_int(got)
    if None not in as_ints:
        return as_ints[0] == as_ints[1]
    return str(wanted) == str(got) and not isinstance(got, dict | list)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def poll(
    spec: HealthSpec, step_timeout: float, pause: Callable[[float], None] = time.sleep
) -> Outcome:
    """Probe until healthy or the timeout; ``pause`` waits between probes (and may end the
    wait early, raising, when the run is cancelled)."""
    # Imported here: only health steps need an HTTP client, and it is slow to import.
    import httpx

    try:
        httpx.URL(spec.url)
    except httpx.InvalidURL as exc:  # it never becomes valid: no point in polling it
        message = f"url {spec.url!r} is not a usable address: {exc}"
        return Outcome(ok=False, log=message + "\n", error=message)
    # The step's own timeout caps the wait as well; the message names the wait that applied.
    waited = min(spec.timeout_seconds, step_timeout)
    deadline = time.monotonic() + waited
    log: list[str] = []
    last = "no answer yet"
    with httpx.Client(headers=dict(spec.headers), follow_redirects=True) as client:
        while True:
            remaining = deadline - time.monotonic()
            last = _probe(client, spec, max(0.5, min(5.0, remaining)))
            log.append(last)
            if last == "ok":
                return Outcome(ok=True, log="\n".join(log) + "\n")
            if time.monotonic() + spec.interval_seconds > deadline:
                break
            pause(spec.interval_seconds)
    error = f"{spec.url} did not become healthy within {waited:g}s: {last}"
    return Outcome(ok=False, log="\n".join(log) + "\n", error=error)


def _probe(client: httpx.Client, spec: HealthSpec, timeout: float) -> str:
    import httpx

    try:
        response = client.get(spec.url, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"GET {spec.url}: {type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"GET {spec.url}: HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return f"GET {spec.url}: the answer is not JSON"
    problems = mismatches(spec.expect, body)
    return "ok" if not problems else f"GET {spec.url}: " + "; ".join(problems)
