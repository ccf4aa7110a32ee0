"""Every route but /health needs a token; roles are enforced; revoked tokens are refused; the
database keeps hashes only; no CORS."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from .conftest import Api

OPEN = {("get", "/health")}


def operations(api: Api) -> list[tuple[str, str]]:
    schema = api.client.get("/api/v1/openapi.json").json()
    out = []
    for path, item in schema["paths"].items():
        for method in item:
            concrete = (
                path.replace("{name}", "fleet.json")
                .replace("{token_id}", "abc")
                .replace("{run_id}", "0" * 32)
            )
            out.append((method, concrete))
    return out


def test_the_schema_is_served_and_lists_the_routes(api: Api):
    ops = operations(api)
    assert ("post", "/api/v1/scenarios") in ops
    assert ("get", "/api/v1/job-files/fleet.json/versions") in ops
    assert ("delete", "/api/v1/tokens/abc") in ops
    assert ("post", "/api/v1/runs/" + "0" * 32 + "/cancel") in ops
    assert ("get", "/api/v1/compare") in ops and ("get", "/api/v1/catalog") in ops
    # documents 5 x 7, tokens and me 5, health 1, runs 5, compare 1, jobs and pools 2, catalog 1
    assert len(ops) == 5 * 7 + 5 + 1 + 5 + 1 + 2 + 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer pf_000000000000_" + "A" * 43],
)
def test_every_route_but_health_needs_a_valid_token(api: Api, authorization: str | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in operations(api):
        response = api.client.request(method, path, headers=headers)
        if (method, path) in OPEN:
            assert response.status_code == 200, path
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


def test_viewers_read_planners_upload_admins_manage_tokens(api: Api):
    upload = {"files": {"file": ("s.yaml", b"name: x\n")}}
    refused = api.client.post("/api/v1/scenarios", headers=api.auth("viewer"), **upload)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "this needs the planner role; the token's role is viewer"
    )
    assert (
        api.client.post("/api/v1/scenarios", headers=api.auth("planner"), **upload).status_code
        == 201
    )
    assert (
        api.client.post("/api/v1/scenarios", headers=api.auth("admin"), **upload).status_code == 200
    )
    for role in ("viewer", "planner", "admin"):
        assert api.client.get("/api/v1/scenarios/s.yaml", headers=api.auth(role)).status_code == 200
        assert api.client.get("/api/v1/me", headers=api.auth(role)).json()["role"] == role
    for role in ("viewer", "planner"):
        assert api.client.get("/api/v1/tokens", headers=api.auth(role)).status_code == 403
        made = api.client.post("/api/v1/tokens", json={"role": "admin"}, headers=api.auth(role))
        assert made.status_code == 403
    assert api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()["total"] == 3


def test_admins_create_and_revoke_tokens(api: Api):
    made = api.client.post(
        "/api/v1/tokens", json={"role": "planner", "name": "ci"}, headers=api.auth("admin")
    )
    assert made.status_code == 201
    body = made.json()
    assert body["role"] == "planner" and body["name"] == "ci" and body["revoked_at"] is None
    new = {"Authorization": f"Bearer {body['secret']}"}
    assert api.client.get("/api/v1/me", headers=new).json()["id"] == body["id"]
    listed = api.client.get("/api/v1/tokens", headers=api.auth("admin")).json()["items"]
    assert all("secret" not in t for t in listed) and body["id"] in {t["id"] for t in listed}
    gone = api.client.delete(f"/api/v1/tokens/{body['id']}", headers=api.auth("admin"))
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    refused = api.client.get("/api/v1/me", headers=new)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "the token is unknown or revoked"
    one = api.client.get(f"/api/v1/tokens/{body['id']}", headers=api.auth("admin")).json()
    assert one["revoked_at"] == gone.json()["revoked_at"]
    assert api.client.delete("/api/v1/tokens/nope", headers=api.auth("admin")).status_code == 404


def test_the_last_admin_token_cannot_be_revoked(api: Api):
    me = api.client.get("/api/v1/me", headers=api.auth("admin")).json()
    refused = api.client.delete(f"/api/v1/tokens/{me['id']}", headers=api.auth("admin"))
    assert refused.status_code == 409
    assert "last active admin" in refused.json()["error"]["message"]
    second = api.client.post("/api/v1/tokens", json={"role": "admin"}, headers=api.auth("admin"))
    other = {"Authorization": f"Bearer {second.json()['secret']}"}
    assert api.client.delete(f"/api/v1/tokens/{me['id']}", headers=other).status_code == 200
    assert api.client.get("/api/v1/me", headers=api.auth("admin")).status_code == 401


def test_bad_token_requests_are_4xx_with_the_error_body(api: Api):
    cases = [
        ({"role": "root"}, "role"),
        ({"role": "viewer", "name": ""}, "name"),
        ({"role": "viewer", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = api.client.post("/api/v1/tokens", json=body, headers=api.auth("admin"))
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and error["field"] == field
    broken = api.client.post(
        "/api/v1/tokens",
        content=b"{not json",
        headers={**api.auth("admin"), "content-type": "application/json"},
    )
    assert broken.status_code == 422


def test_the_database_holds_hashes_not_secrets(api: Api):
    made = api.client.post("/api/v1/tokens", json={"role": "viewer"}, headers=api.auth("admin"))
    secrets = [*api.secrets.values(), made.json()["secret"]]
    with api.store.engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM tokens")).all())
        dump += repr(conn.exec_driver_sql("SELECT * FROM documents").all())
    for secret in secrets:
        random_part = secret.split("_", 2)[2]  # "pf_<id>_<random>"; the random part may hold "_"
        assert secret not in dump and random_part not in dump


def test_no_cors(api: Api):
    preflight = api.client.options(
        "/api/v1/scenarios",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = api.client.get(
        "/api/v1/scenarios", headers={**api.auth("viewer"), "Origin": "https://elsewhere.example"}
    )
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
    assert simple.headers["x-content-type-options"] == "nosniff"


def test_health_needs_no_token_and_reports_the_database(api: Api, monkeypatch: pytest.MonkeyPatch):
    ok = api.client.get("/health")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    monkeypatch.setattr(api.store, "ping", lambda: False)
    down = api.client.get("/health")
    assert down.status_code == 503 and down.json()["status"] == "unavailable"


ADMIN_ONLY = {"list_tokens", "create_token", "get_token", "revoke_token"}
PLANNER_PREFIXES = ("upload_", "validate_uploaded_", "submit_run", "cancel_run")


def needed_role(operation_id: str) -> str:
    """The role each operation is meant to need (the README's rule, written out by hand)."""
    if operation_id in ADMIN_ONLY:
        return "admin"
    if operation_id.startswith(PLANNER_PREFIXES):
        return "planner"
    return "viewer"


def test_every_operation_needs_its_role_and_no_more(api: Api):
    schema = api.client.get("/api/v1/openapi.json").json()
    ids = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert {"upload_scenario", "submit_run", "cancel_run", "revoke_token"} <= ids
    below = {"admin": "planner", "planner": "viewer"}
    checked = set()
    for method, path in operations(api):
        if (method, path) in OPEN:
            continue
        op_id = next(
            op["operationId"]
            for template, item in schema["paths"].items()
            for m, op in item.items()
            if m == method and operations_match(template, path)
        )
        role = needed_role(op_id)
        allowed = api.client.request(method, path, headers=api.auth(role))
        assert allowed.status_code not in (401, 403), (op_id, role, allowed.text)
        if role in below:
            refused = api.client.request(method, path, headers=api.auth(below[role]))
            assert refused.status_code == 403, (op_id, refused.text)
            assert refused.json()["error"]["message"].startswith(f"this needs the {role} role")
        checked.add(op_id)
    assert checked == ids - {"health"}


def operations_match(template: str, path: str) -> bool:
    """Whether a concrete path of `operations` came from this schema path."""
    parts, concrete = template.split("/"), path.split("/")
    return len(parts) == len(concrete) and all(
        p == c or p.startswith("{") for p, c in zip(parts, concrete, strict=True)
    )
