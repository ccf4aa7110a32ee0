"""Documents over HTTP: upload both ways, versions, pagination, ETags, names, size limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyfleet.service.app import create_app
from polyfleet.service.settings import MULTIPART_OVERHEAD, Settings

from .conftest import EXAMPLES, Api

LIMIT = 64 * 1024  # the `api` fixture's upload cap


def upload(api: Api, name: str, content: bytes, role: str = "planner", kind: str = "scenarios"):
    return api.client.post(
        f"/api/v1/{kind}", files={"file": (name, content)}, headers=api.auth(role)
    )


def test_upload_multipart_and_raw_body(api: Api):
    scenario = (EXAMPLES / "hyperscaler-2026.yaml").read_bytes()
    first = upload(api, "fleet.yaml", scenario)
    assert first.status_code == 201
    assert first.headers["location"] == "/api/v1/scenarios/fleet.yaml?version=1"
    body = first.json()
    assert body["version"] == 1 and body["size"] == len(scenario)
    assert body["media_type"] == "application/yaml" and body["created_by"]
    raw = api.client.post(
        "/api/v1/scenarios?name=fleet.yaml",
        content=scenario + b"\n# edited\n",
        headers={**api.auth("planner"), "content-type": "application/yaml"},
    )
    assert raw.status_code == 201 and raw.json()["version"] == 2
    named = api.client.post(
        "/api/v1/deals?name=amd.yaml",
        files={"file": ("ignored.yaml", b"x: 1\n")},
        headers=api.auth("planner"),
    )
    assert named.status_code == 201 and named.json()["name"] == "amd.yaml"
    profile = (EXAMPLES / "profiles" / "h200-sxm-full.json").read_bytes()
    stored = upload(api, "h200.json", profile, kind="profiles").json()
    assert stored["media_type"] == "application/json"


def test_versions_are_kept_and_served(api: Api):
    for i in range(3):
        assert upload(api, "fleet.yaml", f"name: v{i}\n".encode()).json()["version"] == i + 1
    same = upload(api, "fleet.yaml", b"name: v2\n")
    assert same.status_code == 200 and same.json()["version"] == 3
    auth = api.auth("viewer")
    latest = api.client.get("/api/v1/scenarios/fleet.yaml", headers=auth).json()
    assert latest["version"] == 3 and latest["content"] == "name: v2\n"
    old = api.client.get("/api/v1/scenarios/fleet.yaml?version=1", headers=auth).json()
    assert old["version"] == 1 and old["content"] == "name: v0\n"
    raw = api.client.get("/api/v1/scenarios/fleet.yaml/raw?version=2", headers=auth)
    assert raw.content == b"name: v1\n" and raw.headers["content-type"] == "application/yaml"
    assert raw.headers["content-disposition"] == 'attachment; filename="fleet.yaml"'
    versions = api.client.get("/api/v1/scenarios/fleet.yaml/versions", headers=auth).json()
    assert [v["version"] for v in versions["items"]] == [3, 2, 1] and versions["total"] == 3
    missing = api.client.get("/api/v1/scenarios/fleet.yaml?version=4", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    for path in ("/api/v1/scenarios/other.yaml", "/api/v1/scenarios/other.yaml/versions"):
        assert api.client.get(path, headers=auth).status_code == 404


def test_pagination(api: Api):
    for i in range(7):
        upload(api, f"s{i}.yaml", b"a: 1\n")
    auth = api.auth("viewer")
    seen: list[str] = []
    for offset in range(0, 7, 3):
        page = api.client.get(f"/api/v1/scenarios?limit=3&offset={offset}", headers=auth).json()
        assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == offset
        seen += [item["name"] for item in page["items"]]
    assert seen == [f"s{i}.yaml" for i in range(7)]
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=x"):
        response = api.client.get(f"/api/v1/scenarios?{bad}", headers=auth)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == bad.split("=")[0]


def test_etag_and_if_none_match(api: Api):
    upload(api, "fleet.yaml", b"name: a\n")
    auth = api.auth("viewer")
    for path in ("/api/v1/scenarios/fleet.yaml", "/api/v1/scenarios/fleet.yaml/raw"):
        first = api.client.get(path, headers=auth)
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"')
        again = api.client.get(path, headers={**auth, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        weak = api.client.get(path, headers={**auth, "If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        assert api.client.get(path, headers={**auth, "If-None-Match": '"x"'}).status_code == 200
    etag = api.client.get("/api/v1/scenarios/fleet.yaml", headers=auth).headers["etag"]
    upload(api, "fleet.yaml", b"name: b\n")
    changed = api.client.get(
        "/api/v1/scenarios/fleet.yaml", headers={**auth, "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    pinned = api.client.get(
        "/api/v1/scenarios/fleet.yaml?version=1", headers={**auth, "If-None-Match": etag}
    )
    assert pinned.status_code == 304


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.yaml",
        "../fleet.yaml",
        "/etc/fleet.yaml",
        "a/b.yaml",
        "a\\b.yaml",
        ".polyfleet.yaml",
        "fleet.yaml\x00.json",
        "fleet",
        "fleet.sh",
    ],
)
def test_names_that_could_be_paths_are_refused(api: Api, name: str):
    by_file = upload(api, name, b"a: 1\n")
    by_query = api.client.post(
        "/api/v1/scenarios",
        params={"name": name},
        content=b"a: 1\n",
        headers={**api.auth("planner"), "content-type": "application/yaml"},
    )
    for response in (by_file, by_query):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "name"
    assert api.client.get("/api/v1/scenarios", headers=api.auth("viewer")).json()["total"] == 0


def test_traversal_in_the_url_reaches_no_file(api: Api, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    auth = api.auth("viewer")
    for path in (
        "/api/v1/scenarios/..%2F..%2Fsecret.yaml/raw",
        "/api/v1/scenarios/%2e%2e/raw",
        "/api/v1/scenarios/....secret.yaml/raw",
    ):
        response = api.client.get(path, headers=auth)
        assert response.status_code in (404, 422) and b"hunter2" not in response.content


def test_bad_uploads_are_4xx(api: Api):
    auth = api.auth("planner")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"content": b"a: 1\n", "headers": {"content-type": "application/yaml"}}, "name"),
        ({"files": {"file": ("s.yaml", b"")}}, "content"),
        ({"files": {"file": ("s.yaml", b"name: \xff\xfe\n")}}, "content"),
        ({"files": {"other": ("s.yaml", b"a: 1\n")}}, "file"),
    ]
    for kwargs, field in cases:
        headers = {**auth, **kwargs.pop("headers", {})}
        response = api.client.post("/api/v1/scenarios", headers=headers, **kwargs)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    broken = api.client.post(
        "/api/v1/scenarios",
        content=b"--x\r\nbroken",
        headers={**auth, "content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= broken.status_code < 500


def test_uploads_over_the_limit_are_refused(api: Api):
    at_limit = b"#" * LIMIT
    assert upload(api, "big.yaml", at_limit).status_code == 201
    for response in (
        upload(api, "big.yaml", at_limit + b"#"),
        api.client.post(
            "/api/v1/scenarios?name=big.yaml",
            content=at_limit + b"#",
            headers={**api.auth("planner"), "content-type": "application/yaml"},
        ),
    ):
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "too_large",
            "message": f"the document is over the limit of {LIMIT} bytes",
            "field": None,
            "line": None,
        }
    huge = api.client.post(
        "/api/v1/tokens",
        content=b"x" * (LIMIT + MULTIPART_OVERHEAD + 1),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413  # before the token is even looked at
    assert (
        api.client.get("/api/v1/scenarios/big.yaml/versions", headers=api.auth("viewer")).json()[
            "total"
        ]
        == 1
    )


async def _asgi_post(app: Any, path: str, headers: list[tuple[bytes, bytes]], chunks: int):
    """POST `chunks` chunks of 16 KiB with no Content-Length; what was read, and the answer."""
    sent = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"#" * 16384, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"name=big.yaml",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return sent, status, json.loads(body)


@pytest.mark.parametrize("path", ["/api/v1/scenarios", "/api/v1/tokens"])
def test_a_streamed_body_is_cut_off_at_the_limit(api: Api, tmp_path, path: str):
    """A chunked body with no Content-Length is refused once the limit is passed, not after
    the whole body was read: 1000 chunks are offered, only those up to the limit are taken."""
    import anyio

    app = create_app(api.store, Settings(state_dir=tmp_path, max_upload_bytes=LIMIT))
    headers = [
        (b"authorization", api.auth("planner")["Authorization"].encode()),
        (b"content-type", b"application/yaml"),
        (b"transfer-encoding", b"chunked"),
    ]
    sent, status, body = anyio.run(_asgi_post, app, path, headers, 1000)
    assert status == 413 and body["error"]["code"] == "too_large"
    assert sent <= (LIMIT + MULTIPART_OVERHEAD) // 16384 + 1
