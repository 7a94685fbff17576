"""Every rule of the DropBoxMini contract, over real HTTP against the real server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.dropboxmini.conftest import (
    AGENT,
    READ,
    RW,
    Live,
    multipart,
    png_bytes,
    zip_bytes,
)

HEALTH_KEYS = {
    "status",
    "service",
    "baseline",
    "buildUtc",
    "sourceRevision",
    "version",
    "utc",
    "artifactCount",
}
RECORD_KEYS = {
    "artifactId",
    "artifactType",
    "project",
    "fileName",
    "size",
    "sha256",
    "baseline",
    "patch",
    "label",
    "description",
    "tags",
    "source",
    "createdBy",
    "createdUtc",
    "downloadUrl",
}


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    for word in words:
        assert word in body["detail"]


def test_health_is_public_and_has_the_platform_shape(live: Live) -> None:
    body = httpx.get(f"{live.url}/health").json()
    assert set(body) == HEALTH_KEYS
    assert body["status"] == "ok"
    assert body["service"] == "dropboxmini"
    assert body["baseline"] == "0018"
    assert body["utc"].endswith("Z")
    assert isinstance(body["artifactCount"], int)


def test_status_needs_a_key_and_answers_the_health_shape(live: Live) -> None:
    assert_error(httpx.get(f"{live.url}/api/dropbox/status"), 401, "unauthorized", "X-API-Key")
    with live.client(READ) as http:
        body = http.get("/api/dropbox/status").json()
    assert set(body) == HEALTH_KEYS
    assert body["service"] == "dropboxmini"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/dropbox/status"),
        ("GET", "/api/dropbox/artifacts"),
        ("GET", "/api/dropbox/artifacts/20250101-001"),
        ("GET", "/api/dropbox/artifacts/20250101-001/download"),
        ("POST", "/api/dropbox/upload"),
    ],
)
@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_missing_or_unknown_key_is_401(live: Live, method: str, path: str, key: str | None) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    response = httpx.request(method, f"{live.url}{path}", headers=headers)
    assert_error(response, 401, "unauthorized")


def test_read_key_may_read_but_not_upload(live: Live, project: str) -> None:
    response = live.upload(b"data", key=READ, artifactType="generic", project=project)
    assert_error(response, 403, "forbidden", "read")
    with live.client(READ) as http:
        assert http.get("/api/dropbox/artifacts", params={"project": project}).json()["count"] == 0


def test_upload_answers_201_with_the_full_record(live: Live, project: str) -> None:
    response = live.upload(
        b"hello",
        filename="notes.txt",
        artifactType="generic",
        project=project,
        baseline="18",
        patch="7",
        label="nightly",
        description="a generic file",
        tags="a, b,,a",
        source="orch:wf/run-1",
        createdBy="tester",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == RECORD_KEYS
    assert body["artifactId"][:8].isdigit() and body["artifactId"][8] == "-"
    assert body["baseline"] == "0018" and body["patch"] == "0007"
    assert body["tags"] == ["a", "b"]
    assert body["size"] == 5
    assert body["fileName"] == "notes.txt"
    assert body["downloadUrl"].endswith(f"/api/dropbox/artifacts/{body['artifactId']}/download")
    stored = live.root / "artifacts" / project / "generic" / body["artifactId"] / "notes.txt"
    assert stored.read_bytes() == b"hello"
    with live.client(READ) as http:
        assert http.get(f"/api/dropbox/artifacts/{body['artifactId']}").json() == body
        download = http.get(body["downloadUrl"])
    assert download.status_code == 200
    assert download.content == b"hello"


@pytest.mark.parametrize(
    ("fields", "content", "field"),
    [
        ({"baseline": "18", "patch": "1"}, b"not a zip at all", "file"),
        ({"baseline": "18", "patch": "1"}, b"PK\x03\x04 but not really a zip", "file"),
        ({"patch": "1"}, None, "baseline"),
        ({"baseline": "18"}, None, "patch"),
        ({"baseline": "eighteen", "patch": "1"}, None, "baseline"),
        ({"baseline": "18", "patch": "1.5"}, None, "patch"),
        ({"baseline": "-18", "patch": "1"}, None, "baseline"),
        ({"baseline": "17", "patch": "1"}, None, "baseline"),
        ({"baseline": "0019", "patch": "1"}, None, "baseline"),
    ],
)
def test_delivery_patch_validation(
    live: Live, project: str, fields: dict[str, str], content: bytes | None, field: str
) -> None:
    response = live.upload(
        content if content is not None else zip_bytes(),
        filename="p.zip",
        artifactType="delivery-patch",
        project=project,
        **fields,
    )
    assert_error(response, 422, "invalid_field", f"'{field}'")
    assert not (live.root / "artifacts" / project).exists()


def test_delivery_patch_numbers_compare_as_integers(live: Live, project: str) -> None:
    first = live.upload(
        zip_bytes(), artifactType="delivery-patch", project=project, baseline="0018", patch="3"
    )
    assert first.status_code == 201, first.text
    assert first.json()["baseline"] == "0018"
    again = live.upload(
        zip_bytes(), artifactType="delivery-patch", project=project, baseline="18", patch="0003"
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    other = live.upload(
        zip_bytes("other"),
        artifactType="delivery-patch",
        project=project,
        baseline="18",
        patch="003",
    )
    assert_error(other, 409, "conflict", "0003", first.json()["artifactId"])
    elsewhere = live.upload(
        zip_bytes("other"),
        artifactType="delivery-patch",
        project=project + "-b",
        baseline="18",
        patch="3",
    )
    assert elsewhere.status_code == 201
    with live.client(READ) as http:
        listed = http.get("/api/dropbox/artifacts", params={"project": project}).json()
    assert [a["artifactId"] for a in listed["artifacts"]] == [first.json()["artifactId"]]


def test_screenshot_must_be_png(live: Live, project: str) -> None:
    bad = live.upload(b"GIF89a....", filename="s.png", artifactType="screenshot", project=project)
    assert_error(bad, 422, "invalid_field", "'file'", "PNG")
    good = live.upload(png_bytes(), filename="s.png", artifactType="screenshot", project=project)
    assert good.status_code == 201, good.text


@pytest.mark.parametrize("artifact_type", ["generic", "test-result", "evidence-bundle"])
def test_other_types_take_optional_numeric_numbers(
    live: Live, project: str, artifact_type: str
) -> None:
    plain = live.upload(b"x", artifactType=artifact_type, project=project)
    assert plain.status_code == 201, plain.text
    assert plain.json()["baseline"] is None and plain.json()["patch"] is None
    numbered = live.upload(b"x", artifactType=artifact_type, project=project, baseline="0099")
    assert numbered.status_code == 201
    assert numbered.json()["baseline"] == "0099"
    bad = live.upload(b"x", artifactType=artifact_type, project=project, patch="p1")
    assert_error(bad, 422, "invalid_field", "'patch'")


@pytest.mark.parametrize(
    "name", ["-lead", ".hidden", "_x", "a/b", "..", "a b", "ünï", "a\\b", "x" * 129]
)
def test_bad_project_names_are_422(live: Live, name: str) -> None:
    response = live.upload(b"x", artifactType="generic", project=name)
    assert_error(response, 422, "invalid_field", "'project'")


def test_missing_fields_and_unknown_type_are_422(live: Live, project: str) -> None:
    assert_error(live.upload(b"x", project=project), 422, "invalid_field", "'artifactType'")
    assert_error(live.upload(b"x", artifactType="generic"), 422, "invalid_field", "'project'")
    assert_error(
        live.upload(b"x", artifactType="movie", project=project), 422, "invalid_field", "generic"
    )
    with live.client() as http:
        no_file = http.post(
            "/api/dropbox/upload",
            files={"artifactType": (None, "generic"), "project": (None, project)},
        )
        not_multipart = http.post("/api/dropbox/upload", content=b"raw")
    assert_error(no_file, 422, "invalid_field", "'file'")
    assert_error(not_multipart, 422, "invalid_field", "multipart")


def test_post_on_the_listing_route_is_405(live: Live) -> None:
    with live.client() as http:
        response = http.post("/api/dropbox/artifacts", files={"file": ("a", b"a")})
    assert_error(response, 405, "method_not_allowed", "/api/dropbox/upload")
    assert response.headers["allow"] == "GET"


def test_unknown_artifacts_are_404(live: Live) -> None:
    with live.client(READ) as http:
        for path in (
            "/api/dropbox/artifacts/19990101-001",
            "/api/dropbox/artifacts/19990101-001/download",
            "/api/dropbox/artifacts/..%2F..%2Fetc",
            "/api/dropbox/nothing-here",
        ):
            assert_error(http.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        (b"../x", "x"),
        (b"../../../../etc/passwd", "passwd"),
        (b"/etc/passwd", "passwd"),
        (b"a\x00b.txt", "a_b.txt"),
        (b"..\\..\\win.ini", "win.ini"),
        (b"dir/./../y.txt", "y.txt"),
    ],
)
def test_hostile_file_names_stay_inside_the_root(
    live: Live, project: str, filename: bytes, stored: str
) -> None:
    body, content_type = multipart({"artifactType": "generic", "project": project}, filename, b"z")
    with live.client() as http:
        response = http.post(
            "/api/dropbox/upload", content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["fileName"] == stored
    path = live.root / "artifacts" / project / "generic" / record["artifactId"] / stored
    assert path.read_bytes() == b"z"
    assert all(live.root in p.resolve().parents for p in live.root.rglob("*"))


@pytest.mark.parametrize("filename", [b"..", b".", b"", b"../", b"a/.."])
def test_file_names_naming_no_file_are_422(live: Live, project: str, filename: bytes) -> None:
    body, content_type = multipart({"artifactType": "generic", "project": project}, filename, b"z")
    with live.client() as http:
        response = http.post(
            "/api/dropbox/upload", content=body, headers={"Content-Type": content_type}
        )
    assert_error(response, 422, "invalid_field", "'file'")
    assert not (live.root / "artifacts" / project).exists()


def test_oversized_upload_is_413_and_leaves_nothing(live: Live, project: str) -> None:
    before = live.files_under_root()
    big = b"\0" * (5 * 1024 * 1024)
    declared = live.upload(big, artifactType="generic", project=project)
    assert_error(declared, 413, "too_large", str(live.store.max_bytes))

    body, content_type = multipart({"artifactType": "generic", "project": project}, b"b", big)

    def chunked() -> object:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    with live.client() as http:
        streamed = http.post(
            "/api/dropbox/upload", content=chunked(), headers={"Content-Type": content_type}
        )
    assert "content-length" not in streamed.request.headers
    assert_error(streamed, 413, "too_large")
    assert live.files_under_root() - before == set()
    assert not (live.root / "artifacts" / project).exists()


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def test_interrupted_upload_leaves_no_artifact_and_no_temp_file(live: Live, project: str) -> None:
    file_bytes = b"\1" * (3 * 1024 * 1024)
    body, content_type = multipart(
        {"artifactType": "generic", "project": project}, b"cut.bin", file_bytes
    )
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                "POST /api/dropbox/upload HTTP/1.1\r\n"
                f"Host: {host}\r\nX-API-Key: {RW}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        sock.sendall(body[: 1024 * 1024])
        assert wait_until(lambda: live.temp_files() != [])
    assert wait_until(lambda: live.temp_files() == [])
    with live.client(READ) as http:
        assert http.get("/api/dropbox/artifacts", params={"project": project}).json()["count"] == 0
    assert not (live.root / "artifacts" / project).exists()


def test_concurrent_uploads_get_unique_ids(live: Live, project: str) -> None:
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        response = live.upload(
            f"content {index}".encode(),
            filename=f"f{index}.txt",
            artifactType="generic",
            project=project,
            label="burst",
        )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [201] * 20
    ids = [r.json()["artifactId"] for r in results]
    assert len(set(ids)) == 20
    with live.client(READ) as http:
        for response in results:
            record = response.json()
            content = http.get(record["downloadUrl"]).content
            assert content == f"content {record['fileName'][1:-4]}".encode()


def test_concurrent_delivery_patches_with_one_number_store_once(live: Live, project: str) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        response = live.upload(
            zip_bytes(f"variant {index % 2}"),
            artifactType="delivery-patch",
            project=project,
            baseline="18",
            patch="5",
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 1
    assert set(statuses) <= {200, 201, 409}
    with live.client(READ) as http:
        assert http.get("/api/dropbox/artifacts", params={"project": project}).json()["count"] == 1


def test_list_filters_and_order(live: Live, project: str) -> None:
    ids = []
    for patch, label in ((1, "a"), (2, "b"), (3, "a")):
        response = live.upload(
            zip_bytes(str(patch)),
            artifactType="delivery-patch",
            project=project,
            baseline="18",
            patch=str(patch),
            label=label,
        )
        ids.append(response.json()["artifactId"])
    generic = live.upload(b"g", artifactType="generic", project=project, label="a").json()
    ids.append(generic["artifactId"])

    def listed(**params: str) -> list[str]:
        with live.client(READ) as http:
            response = http.get("/api/dropbox/artifacts", params={"project": project, **params})
        assert response.status_code == 200, response.text
        return [a["artifactId"] for a in response.json()["artifacts"]]

    assert listed() == ids[::-1]
    assert listed(artifactType="delivery-patch") == ids[2::-1]
    assert listed(label="a") == [ids[3], ids[2], ids[0]]
    assert listed(baseline="0018") == listed(baseline="18") == ids[2::-1]
    assert listed(patch="0002") == [ids[1]]
    assert listed(limit="2") == ids[:1:-1]
    assert listed(since="2000-01-01") == ids[::-1]
    assert listed(since="2999-01-01T00:00:00Z") == []
    with live.client(READ) as http:
        for params, field in (
            ({"since": "yesterday"}, "since"),
            ({"limit": "0"}, "limit"),
            ({"limit": "many"}, "limit"),
            ({"baseline": "x"}, "baseline"),
            ({"artifactType": "movie"}, "artifactType"),
            ({"project": "../etc"}, "project"),
        ):
            response = http.get("/api/dropbox/artifacts", params=params)
            assert_error(response, 422, "invalid_field", f"'{field}'")


def test_agent_keys_upload_and_only_read_inside_their_window(live: Live, project: str) -> None:
    fresh = live.upload(b"new", key=AGENT, artifactType="generic", project=project)
    assert fresh.status_code == 201
    old = live.upload(b"old", key=RW, artifactType="generic", project=project).json()
    live.backdate(old["artifactId"], "2001-01-01T00:00:00Z")
    fresh_id = fresh.json()["artifactId"]
    with live.client(AGENT) as http:
        assert http.get(f"/api/dropbox/artifacts/{fresh_id}").status_code == 200
        assert http.get(f"/api/dropbox/artifacts/{fresh_id}/download").content == b"new"
        assert_error(http.get(f"/api/dropbox/artifacts/{old['artifactId']}"), 403, "forbidden")
        assert_error(
            http.get(f"/api/dropbox/artifacts/{old['artifactId']}/download"), 403, "forbidden"
        )
        listed = http.get("/api/dropbox/artifacts", params={"project": project}).json()
    assert [a["artifactId"] for a in listed["artifacts"]] == [fresh_id]
    with live.client(READ) as http:
        everything = http.get("/api/dropbox/artifacts", params={"project": project}).json()
        assert http.get(f"/api/dropbox/artifacts/{old['artifactId']}").status_code == 200
    assert everything["count"] == 2


def test_download_returns_identical_bytes(live: Live, project: str, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096
    record = live.upload(payload, filename="blob.bin", artifactType="generic", project=project)
    with live.client(READ) as http:
        response = http.get(record.json()["downloadUrl"])
    assert response.content == payload
    assert response.headers["x-artifact-sha256"] == record.json()["sha256"]
    assert "blob.bin" in response.headers["content-disposition"]


def test_openapi_document_lists_the_contract_routes(live: Live) -> None:
    document = httpx.get(f"{live.url}/openapi.json").json()
    paths = document["paths"]
    assert "get" in paths["/api/dropbox/status"]
    assert "get" in paths["/api/dropbox/artifacts"]
    assert "get" in paths["/api/dropbox/artifacts/{artifactId}"]
    assert "get" in paths["/api/dropbox/artifacts/{artifactId}/download"]
    upload = paths["/api/dropbox/upload"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["required"]) == {"artifactType", "project", "file"}
