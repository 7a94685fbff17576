"""The contract's rules as pure functions: numbers, names, file names, keys."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.dropboxmini.keys import load_keys
from orchestrator.dropboxmini.protocol import (
    ArtifactRecord,
    ArtifactType,
    ConfigError,
    FieldError,
    Role,
    UnauthorizedError,
    error_from_response,
    format_number,
    parse_number,
    sanitize_file_name,
    validate_project,
)


@pytest.mark.parametrize(("text", "value"), [("18", 18), ("0018", 18), (" 7 ", 7), ("0", 0)])
def test_numbers_parse_as_integers(text: str, value: int) -> None:
    assert parse_number("baseline", text) == value


@pytest.mark.parametrize("text", ["x", "1.0", "-1", "+1", "1e3", "١٢", "1234567890"])
def test_non_numbers_name_the_field(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_number("patch", text)
    assert caught.value.field == "patch"
    assert caught.value.status == 422


def test_required_numbers_and_display() -> None:
    assert parse_number("patch", None) is None
    with pytest.raises(FieldError, match="required"):
        parse_number("patch", "", required=True)
    assert format_number(18) == "0018"
    assert format_number(12345) == "12345"
    assert format_number(None) is None


@pytest.mark.parametrize("name", ["a", "A.b_c-9", "0018", "x" * 128])
def test_good_project_names(name: str) -> None:
    assert validate_project(name) == name


@given(st.text())
def test_sanitised_file_names_never_leave_their_folder(name: str) -> None:
    try:
        clean = sanitize_file_name(name)
    except FieldError as exc:
        assert exc.field == "file"
        return
    assert "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert clean not in ("", ".", "..")
    assert len(clean.encode("utf-8", errors="replace")) <= 255
    root = Path("/srv/store/artifact")
    assert (root / clean).resolve().parent == root


def test_long_file_names_keep_their_extension() -> None:
    clean = sanitize_file_name("a" * 400 + ".zip")
    assert clean.endswith(".zip") and len(clean) == 255


def test_record_json_round_trip() -> None:
    record = ArtifactRecord(
        artifact_id="20250101-001",
        artifact_type=ArtifactType.DELIVERY_PATCH,
        project="p",
        file_name="p.zip",
        size=3,
        sha256="ab",
        baseline=18,
        patch=3,
        label=None,
        description="d",
        tags=("x",),
        source="orch:w/r",
        created_by="me",
        created_utc="2025-01-01T00:00:00Z",
    )
    data = record.to_json("http://h:1/")
    assert data["baseline"] == "0018"
    assert data["downloadUrl"] == "http://h:1/api/dropbox/artifacts/20250101-001/download"
    assert ArtifactRecord.from_json(json.loads(json.dumps(data))) == record


def test_error_from_response_keeps_code_detail_and_field() -> None:
    err = error_from_response(422, {"error": "invalid_field", "detail": "field 'patch': bad"})
    assert isinstance(err, FieldError)
    assert (err.status, err.code, err.field) == (422, "invalid_field", "patch")
    odd = error_from_response(418, "teapot")
    assert odd.status == 418 and "418" in odd.detail


def test_keys_from_json() -> None:
    ring = load_keys(
        {
            "DROPBOX_API_KEYS_JSON": json.dumps(
                {
                    "keys": [
                        {"value": "r", "role": "read"},
                        {"value": "a", "role": "agent", "maxArtifactAgeHours": 12},
                    ]
                }
            )
        }
    )
    assert ring.lookup("r").role is Role.READ
    assert ring.lookup("a").max_artifact_age_hours == 12.0
    with pytest.raises(UnauthorizedError):
        ring.lookup("rw")
    with pytest.raises(UnauthorizedError):
        ring.lookup(None)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"keys": {}}',
        '{"keys": [{"role": "read"}]}',
        '{"keys": [{"value": "k", "role": "admin"}]}',
        '{"keys": [{"value": "k", "role": "agent"}]}',
        '{"keys": [{"value": "k", "role": "agent", "maxArtifactAgeHours": -1}]}',
        '{"keys": [{"value": "k", "role": "agent", "maxArtifactAgeHours": true}]}',
    ],
)
def test_bad_key_configuration_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="DROPBOX_API_KEYS_JSON"):
        load_keys({"DROPBOX_API_KEYS_JSON": text})


def test_shared_key_alone_is_one_readwrite_key_and_deprecated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestrator.dropboxmini"):
        ring = load_keys({"DROPBOX_SHARED_KEY": "legacy"})
    assert [(k.value, k.role) for k in ring.keys] == [("legacy", Role.READWRITE)]
    assert "deprecated" in caplog.text


def test_shared_key_is_ignored_next_to_role_keys(caplog: pytest.LogCaptureFixture) -> None:
    keys_json = json.dumps({"keys": [{"value": "r", "role": "read"}]})
    with caplog.at_level(logging.WARNING, logger="orchestrator.dropboxmini"):
        ring = load_keys({"DROPBOX_SHARED_KEY": "legacy", "DROPBOX_API_KEYS_JSON": keys_json})
    assert [k.value for k in ring.keys] == ["r"]
    assert "ignored" in caplog.text
