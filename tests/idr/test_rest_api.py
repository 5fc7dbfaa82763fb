"""The Handle.Net-compatible REST API: round trips, filters, refusals and limits, as JSON over HTTP."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, HS_SECKEY, HandleValue, Permission
from indunet.idr.records import SYSTEM
from indunet.idr.rest import create_app, parse_value, parse_values, value_json
from indunet.idr.store import open_store
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

SECRET = "s3cret-of-the-enterprise"
OWNER = {"handle": "0.NA/88.100.1", "index": 300, "permissions": "011111110011"}


def basic(user: str, password: str) -> dict[str, str]:
    # The user name is percent-encoded, as pyhandle sends it ("300%3A0.NA/88.100.1").
    token = base64.b64encode(f"{quote(user)}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic("300:0.NA/88.100.1", SECRET)
OTHER = basic("300:0.NA/88.200.5", "other-secret")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        store = open_store(tmp_path / "idr.db")
    else:
        store = open_store(request.getfixturevalue("pg_url"), schema=f"idr_{secrets.token_hex(4)}")
    for prefix, secret in (("88.100.1", SECRET), ("88.200.5", "other-secret")):
        na = f"0.NA/{prefix}"
        records.create_handle(
            store,
            na,
            [
                HandleValue(100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), na, 300))),
                HandleValue(
                    300,
                    HS_SECKEY,
                    secret.encode(),
                    permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE,
                ),
            ],
            SYSTEM,
        )
    with TestClient(create_app(store, max_body_bytes=64 * 1024)) as test_client:
        yield test_client
    store.close()


def record(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "values": [{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": OWNER}}, *values]
    }


def url(index: int, target: str) -> dict[str, Any]:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": target}}


def test_create_read_modify_delete_round_trip(client: TestClient) -> None:
    created = client.put(
        "/api/handles/88.100.1/pump-7?overwrite=false", json=record(url(1, "https://a")), headers=ADMIN
    )
    assert created.status_code == 201
    assert created.json() == {"responseCode": 1, "handle": "88.100.1/pump-7"}

    read = client.get("/api/handles/88.100.1/pump-7")
    assert read.status_code == 200
    body = read.json()
    assert body["responseCode"] == 1 and body["handle"] == "88.100.1/pump-7"
    by_index = {v["index"]: v for v in body["values"]}
    assert by_index[1]["data"] == {"format": "string", "value": "https://a"}
    assert by_index[1]["ttl"] == 86400 and by_index[1]["timestamp"].endswith("Z")
    assert by_index[100]["data"] == {"format": "admin", "value": OWNER}

    changed = client.put(
        "/api/handles/88.100.1/pump-7?index=1&index=2&overwrite=true",
        json={"values": [url(1, "https://b"), {"index": 2, "type": "EMAIL", "data": "ops@example.cn"}]},
        headers=ADMIN,
    )
    assert changed.status_code == 201, changed.text  # a new value was created
    values = client.get("/api/handles/88.100.1/pump-7").json()["values"]
    assert {v["index"]: v["data"]["value"] for v in values if v["index"] < 100} == {
        1: "https://b",
        2: "ops@example.cn",
    }

    removed = client.delete("/api/handles/88.100.1/pump-7?index=2", headers=ADMIN)
    assert removed.status_code == 200 and removed.json()["responseCode"] == 1
    assert [v["index"] for v in client.get("/api/handles/88.100.1/pump-7").json()["values"]] == [1, 100]

    gone = client.delete("/api/handles/88.100.1/pump-7", headers=ADMIN)
    assert gone.json() == {"responseCode": 1, "handle": "88.100.1/pump-7"}
    missing = client.get("/api/handles/88.100.1/pump-7")
    assert missing.status_code == 404 and missing.json()["responseCode"] == 100


def test_index_type_and_public_only_filters(client: TestClient) -> None:
    private = {
        "index": 5,
        "type": "NOTE",
        "data": {"format": "base64", "value": base64.b64encode(b"\xff\x00internal").decode()},
        "permissions": "1100",
    }
    body = record(url(1, "https://a"), {"index": 3, "type": "URL.ALT", "data": "https://alt"}, private)
    assert client.put("/api/handles/88.100.1/doc", json=body, headers=ADMIN).status_code == 201

    def indexes(query: str, headers: dict[str, str] | None = None) -> list[int]:
        response = client.get(f"/api/handles/88.100.1/doc{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [v["index"] for v in response.json()["values"]]

    assert indexes("") == [1, 3, 100]
    assert indexes("?index=1&index=100") == [1, 100]
    assert indexes("?type=URL") == [1]
    assert indexes("?type=URL.") == [3]
    assert indexes("?type=URL&index=100") == [1, 100]
    assert indexes("", ADMIN) == [1, 3, 5, 100]
    assert indexes("?publicOnly=true", ADMIN) == [1, 3, 100]
    got = client.get("/api/handles/88.100.1/doc?index=5", headers=ADMIN)
    assert got.status_code == 200, got.text
    shown = got.json()["values"][0]
    assert shown["permissions"] == "1100"
    assert base64.b64decode(shown["data"]["value"]) == b"\xff\x00internal"

    empty = client.get("/api/handles/88.100.1/doc?index=42")
    assert empty.status_code == 200 and empty.json()["responseCode"] == 200
    refused = client.get("/api/handles/88.100.1/doc?publicOnly=false")
    assert refused.status_code == 401 and refused.json()["responseCode"] == 402
    foreign = client.get("/api/handles/88.100.1/doc?publicOnly=false", headers=OTHER)
    assert foreign.status_code == 403 and foreign.json()["responseCode"] == 400


def test_list_handles_under_a_prefix(client: TestClient) -> None:
    for name in ("b", "a", "c"):
        client.put(f"/api/handles/88.100.1/{name}", json=record(url(1, "https://x")), headers=ADMIN)
    listed = client.get("/api/handles?prefix=88.100.1&pageSize=2", headers=ADMIN)
    assert listed.status_code == 200
    assert listed.json()["handles"] == ["88.100.1/a", "88.100.1/b"]
    assert listed.json()["totalCount"] == "3"
    assert client.get("/api/handles?prefix=88.100.1&page=1&pageSize=2", headers=ADMIN).json()["handles"] == [
        "88.100.1/c"
    ]
    assert client.get("/api/handles?prefix=88.100.1").status_code == 401
    assert client.get("/api/handles?prefix=88.100.1", headers=OTHER).status_code == 403


def test_authentication_and_authorisation_refusals(client: TestClient) -> None:
    anonymous = client.put("/api/handles/88.100.1/x", json=record(url(1, "https://a")))
    assert anonymous.status_code == 401 and anonymous.json()["responseCode"] == 402
    assert anonymous.headers["www-authenticate"].startswith("Basic")

    wrong_admin = client.put("/api/handles/88.100.1/x", json=record(url(1, "https://a")), headers=OTHER)
    assert wrong_admin.status_code == 403 and wrong_admin.json()["responseCode"] == 400

    bad_password = client.put(
        "/api/handles/88.100.1/x", json=record(), headers=basic("300:0.NA/88.100.1", "guess")
    )
    assert bad_password.status_code == 401 and bad_password.json()["responseCode"] == 403
    for header in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        response = client.put("/api/handles/88.100.1/x", json=record(), headers={"Authorization": header})
        assert response.status_code == 401

    client.put("/api/handles/88.100.1/x", json=record(url(1, "https://a")), headers=ADMIN)
    for method in ("put", "delete"):
        kwargs: dict[str, Any] = {"json": record(url(1, "https://evil"))} if method == "put" else {}
        response = getattr(client, method)("/api/handles/88.100.1/x", headers=OTHER, **kwargs)
        assert response.status_code == 403, method
    assert client.delete("/api/handles/88.100.1/x").status_code == 401


def test_conflicts_and_missing_values(client: TestClient) -> None:
    client.put("/api/handles/88.100.1/c", json=record(url(1, "https://a")), headers=ADMIN)
    again = client.put("/api/handles/88.100.1/c?overwrite=false", json=record(), headers=ADMIN)
    assert again.status_code == 409 and again.json() == {
        "responseCode": 101,
        "handle": "88.100.1/c",
        "message": "88.100.1/c is registered already",
    }
    replaced = client.put("/api/handles/88.100.1/c", json=record(url(1, "https://z")), headers=ADMIN)
    assert replaced.status_code == 200
    value_exists = client.put(
        "/api/handles/88.100.1/c?index=1&overwrite=false", json=[url(1, "https://q")], headers=ADMIN
    )
    assert value_exists.status_code == 409 and value_exists.json()["responseCode"] == 201
    no_value = client.delete("/api/handles/88.100.1/c?index=9", headers=ADMIN)
    assert no_value.status_code == 400 and no_value.json()["responseCode"] == 200
    no_handle = client.delete("/api/handles/88.100.1/none", headers=ADMIN)
    assert no_handle.status_code == 404 and no_handle.json()["responseCode"] == 100


def test_mint_new_suffix(client: TestClient) -> None:
    minted = client.put(
        "/api/handles/88.100.1/batch-?mintNewSuffix=true", json=record(url(1, "https://m")), headers=ADMIN
    )
    assert minted.status_code == 201
    handle = minted.json()["handle"]
    assert handle.startswith("88.100.1/batch-") and len(handle) > len("88.100.1/batch-") + 30
    assert client.get(f"/api/handles/{handle}").json()["values"][0]["data"]["value"] == "https://m"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/handles/no-slash", record(), 400, 102),
        ("/api/handles/88.100.1/" + "x" * 1100, record(), 400, 102),
        ("/api/handles/88.100.1/v", {"values": [{"index": "one", "type": "URL", "data": "x"}]}, 400, 202),
        ("/api/handles/88.100.1/v", {"values": [{"index": 1, "type": "URL"}]}, 400, 202),
        (
            "/api/handles/88.100.1/v",
            {"values": [{"index": 1, "type": "URL", "data": {"format": "base64", "value": "%%"}}]},
            400,
            202,
        ),
        (
            "/api/handles/88.100.1/v",
            {"values": [{"index": 1, "type": "URL", "data": {"format": "weird", "value": ""}}]},
            400,
            202,
        ),
        (
            "/api/handles/88.100.1/v",
            {
                "values": [
                    {
                        "index": 100,
                        "type": "HS_ADMIN",
                        "data": {
                            "format": "admin",
                            "value": {"handle": "0.NA/88", "index": 1, "permissions": "2"},
                        },
                    }
                ]
            },
            400,
            202,
        ),
        (
            "/api/handles/88.100.1/v",
            {"values": [{"index": i, "type": "U", "data": ""} for i in range(1, 1003)]},
            400,
            202,
        ),
        ("/api/handles/88.100.1/v?overwrite=maybe", record(), 400, 202),
        ("/api/handles/88.100.1/v?index=1", record(), 400, 202),  # no value 1 in the body
    ],
)
def test_bad_requests_get_handle_errors(
    client: TestClient, path: str, body: Any, status: int, code: int
) -> None:
    response = client.put(path, json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    assert response.json()["responseCode"] == code
    assert response.json()["message"]


def test_body_limit_and_malformed_json(client: TestClient) -> None:
    big = client.put(
        "/api/handles/88.100.1/big", content=b'{"values": [' + b" " * 70_000 + b"]}", headers=ADMIN
    )
    assert big.status_code == 413 and big.json()["responseCode"] == 202
    broken = client.put("/api/handles/88.100.1/broken", content=b'{"values": [', headers=ADMIN)
    assert broken.status_code == 400 and broken.json()["responseCode"] == 202
    deep = client.put("/api/handles/88.100.1/deep", content=b"[" * 50_000 + b"]" * 50_000, headers=ADMIN)
    assert deep.status_code in (400, 413)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_value_keys = st.fixed_dictionaries(
    {"index": _json | st.integers(), "type": _json | st.text(), "data": _json | st.text()},
    optional={"ttl": _json},
)


@given(st.one_of(_json, _value_keys, st.lists(_value_keys, max_size=3)))
def test_arbitrary_bodies_parse_or_give_invalid_value(body: Any) -> None:
    try:
        parsed = parse_values(body)
    except records.InvalidValue:
        return
    assert all(isinstance(v, HandleValue) for v in parsed)


@given(
    st.integers(1, records.MAX_INDEX),
    st.text(min_size=1, max_size=20),
    st.binary(max_size=64),
    st.integers(0, records.MAX_TTL),
    st.sampled_from(list(Permission)),
)
def test_value_json_round_trips(index: int, value_type: str, data: bytes, ttl: int, perm: Permission) -> None:
    value = HandleValue(index, value_type, data, ttl=ttl, permissions=perm | Permission.ADMIN_READ)
    back = parse_value(value_json(value))
    assert (back.index, back.type, back.data, back.ttl, back.permissions) == (
        index,
        value_type,
        data,
        ttl,
        value.permissions,
    )


def test_lone_surrogates_are_invalid_values(client: TestClient) -> None:
    body = b'{"values": [{"index": 1, "type": "URL\\ud800", "data": "x"}]}'
    response = client.put("/api/handles/88.100.1/s", content=body, headers=ADMIN)
    assert response.status_code == 400 and response.json()["responseCode"] == 202
