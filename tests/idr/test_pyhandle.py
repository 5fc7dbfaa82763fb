"""The unmodified pyhandle client (EUDAT's Handle.Net REST client) against the API served by uvicorn.

pyhandle talks plain HTTP when given an ``http://`` server URL; nothing in it insists on TLS.
``PyHandleClient("rest").instantiate_*`` return the configured ``RESTHandleClient`` (the wrapper
itself keeps reading from hdl.handle.net), as pyhandle's documentation uses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhandle.handleclient import PyHandleClient, RESTHandleClient
from pyhandle.handleexceptions import (
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)
from tests.helpers import served

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, HS_SECKEY, HandleValue, Permission
from indunet.idr.records import SYSTEM
from indunet.idr.rest import create_app
from indunet.idr.store import open_store
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

USER = "300:0.NA/88.100.1"
SECRET = "s3cret-of-the-enterprise"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = open_store(Path(tmp_path_factory.mktemp("idr")) / "idr.db")
    na = "0.NA/88.100.1"
    records.create_handle(
        store,
        na,
        [
            HandleValue(100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), na, 300))),
            HandleValue(
                300, HS_SECKEY, SECRET.encode(), permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE
            ),
        ],
        SYSTEM,
    )
    with served(create_app(store)) as url:
        yield url
    store.close()


@pytest.fixture
def writer(server_url: str) -> RESTHandleClient:
    return PyHandleClient("rest").instantiate_with_username_and_password(
        server_url, USER, SECRET, handleowner=USER, HTTPS_verify=False
    )


def test_register_read_modify_delete_with_pyhandle(server_url: str, writer: RESTHandleClient) -> None:
    handle = "88.100.1/pyhandle-1"
    assert writer.register_handle(handle, "https://example.cn/v1", checksum="abc123") == handle
    with pytest.raises(HandleAlreadyExistsException):
        writer.register_handle(handle, "https://example.cn/again")

    reader = RESTHandleClient.instantiate_for_read_access(server_url, HTTPS_verify=False)
    assert reader.get_value_from_handle(handle, "URL") == "https://example.cn/v1"
    record = reader.retrieve_handle_record(handle)
    assert record["CHECKSUM"] == "abc123"
    full = reader.retrieve_handle_record_json(handle)
    admin = next(v for v in full["values"] if v["type"] == "HS_ADMIN")
    assert admin["data"]["value"]["handle"] == "0.NA/88.100.1" and admin["data"]["value"]["index"] == 300

    writer.modify_handle_value(handle, URL="https://example.cn/v2", EMAIL="ops@example.cn")
    assert reader.get_value_from_handle(handle, "URL") == "https://example.cn/v2"
    assert reader.get_value_from_handle(handle, "EMAIL") == "ops@example.cn"

    writer.delete_handle_value(handle, "CHECKSUM")
    assert "CHECKSUM" not in reader.retrieve_handle_record(handle)

    assert writer.delete_handle(handle) == handle
    assert reader.retrieve_handle_record_json(handle) is None
    with pytest.raises(HandleNotFoundException):
        writer.delete_handle(handle)


def test_register_json_and_generated_names(writer: RESTHandleClient) -> None:
    handle = writer.generate_PID_name("88.100.1")
    entries = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.cn/json"}}]
    assert writer.register_handle_json(handle, entries) == handle
    assert writer.get_value_from_handle(handle, "URL") == "https://example.cn/json"


def test_wrong_password_is_an_authentication_error(server_url: str) -> None:
    client = PyHandleClient("rest").instantiate_with_username_and_password(
        server_url, USER, "guess", handleowner=USER
    )
    with pytest.raises(HandleAuthenticationError):
        client.register_handle("88.100.1/not-mine", "https://example.cn/x")


def test_unknown_user_handle_is_refused_at_instantiation(server_url: str) -> None:
    with pytest.raises(HandleNotFoundException):
        PyHandleClient("rest").instantiate_with_username_and_password(server_url, "300:0.NA/99.9", SECRET)
