"""Sealed strings in configuration: the token format, opening whole trees, resealing and sealing
fields of a YAML text in place."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.core.errors import ConfigurationError
from indunet.security import sealed
from indunet.security.keyring import Keyring, KeyringError

RING = Keyring.new()  # in memory: ``path`` None, nothing written


def _never() -> Keyring:
    raise AssertionError("the keyring was loaded although nothing is sealed")


def test_a_sealed_string_opens_to_its_text_and_is_unpadded_urlsafe_base64() -> None:
    token = sealed.seal_string(RING, "pa:ss wörd/+=")
    assert token.startswith("sm4:") and sealed.is_sealed(token)
    assert set(token[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "pa" not in token and "=" not in token
    assert sealed.open_string(RING, token) == "pa:ss wörd/+="
    assert sealed.seal_string(RING, "same") != sealed.seal_string(RING, "same")  # fresh nonce each time


def test_plain_values_are_not_sealed() -> None:
    for value in ("secret", "SM4:abc", "", None, 42, ["sm4:x"], "x sm4:abc"):
        assert not sealed.is_sealed(value)
    with pytest.raises(KeyringError, match="not a sealed value"):
        sealed.open_string(RING, "secret")


def test_a_value_sealed_for_another_purpose_or_under_another_ring_does_not_open() -> None:
    elsewhere = "sm4:" + sealed._encode(RING.seal(b"secret key of a record", b"88.100.1/x:300"))
    with pytest.raises(KeyringError, match="does not open"):
        sealed.open_string(RING, elsewhere)
    other = Keyring.new()
    with pytest.raises(KeyringError, match="does not hold"):
        sealed.open_string(RING, sealed.seal_string(other, "x"))


def test_a_non_canonical_spelling_of_the_same_octets_is_refused() -> None:
    token = next(t for t in (sealed.seal_string(RING, "x" * n) for n in range(3)) if len(t[4:]) % 4)
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused_bits = 4 if len(token[4:]) % 4 == 2 else 2
    twin = token[:-1] + alphabet[alphabet.index(last) | ((1 << unused_bits) - 1)]
    assert twin != token
    assert base64.urlsafe_b64decode(twin[4:] + "==") == base64.urlsafe_b64decode(token[4:] + "==")
    with pytest.raises(KeyringError, match="canonical"):
        sealed.open_string(RING, twin)


def test_sizes_are_bounded() -> None:
    biggest = sealed.seal_string(RING, "é" * (sealed.MAX_PLAINTEXT_BYTES // 2))
    assert len(biggest) <= sealed.MAX_TOKEN_CHARS
    assert sealed.open_string(RING, biggest) == "é" * (sealed.MAX_PLAINTEXT_BYTES // 2)
    with pytest.raises(ValueError, match="at most"):
        sealed.seal_string(RING, "x" * (sealed.MAX_PLAINTEXT_BYTES + 1))
    with pytest.raises(KeyringError, match="longer than"):
        sealed.open_string(RING, "sm4:" + "A" * sealed.MAX_TOKEN_CHARS)
    with pytest.raises(ValueError, match="longer than"):
        sealed.reseal_text("#" * (sealed.MAX_TEXT_CHARS + 1), RING)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_round_trips(text: str) -> None:
    assert sealed.open_string(RING, sealed.seal_string(RING, text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=64), st.data())
def test_any_single_byte_changed_in_a_token_fails_to_open(text: str, data: st.DataObject) -> None:
    token = sealed.seal_string(RING, text).encode("ascii")
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != token[index]), label="byte")
    damaged = (token[:index] + bytes((byte,)) + token[index + 1 :]).decode("latin-1")
    with pytest.raises(KeyringError):
        sealed.open_string(RING, damaged)


def test_keyring_path_is_the_variable_or_beside_the_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    assert sealed.keyring_path(config, {}) == tmp_path / "gateway.yaml.keyring.json"
    assert sealed.keyring_path(config, {"INDUNET_KEYRING": "/etc/indunet/ring.json"}) == Path(
        "/etc/indunet/ring.json"
    )


def test_open_tree_opens_every_sealed_string_and_loads_the_ring_once() -> None:
    loads: list[int] = []

    def loader() -> Keyring:
        loads.append(1)
        return RING

    data = {
        "uplink": {"token": sealed.seal_string(RING, "dev_1"), "keep_alive_s": 30},
        "devices": [{"connection": {"password": sealed.seal_string(RING, "pw"), "port": 4840}}],
        "tags": ["plain", sealed.seal_string(RING, "in a list")],
    }
    assert sealed.open_tree(data, loader) == {
        "uplink": {"token": "dev_1", "keep_alive_s": 30},
        "devices": [{"connection": {"password": "pw", "port": 4840}}],
        "tags": ["plain", "in a list"],
    }
    assert loads == [1]
    assert sealed.is_sealed(data["uplink"]["token"])  # a new tree: the given one is left as it was


def test_open_tree_without_sealed_strings_needs_no_keyring() -> None:
    data: dict[str, Any] = {"uplink": {"token": "plain"}, "devices": [{"connection": {}}], "n": None}
    assert sealed.open_tree(data, _never) is data


def test_without_a_keyring_every_sealed_field_is_named_and_no_secret_shown(tmp_path: Path) -> None:
    data = {
        "uplink": {"token": sealed.seal_string(RING, "dev_very_secret")},
        "devices": [{"connection": {"password": sealed.seal_string(RING, "hunter2")}}],
    }
    loader = sealed.ring_loader(tmp_path / "gateway.yaml.keyring.json")
    with pytest.raises(ConfigurationError) as caught:
        sealed.open_tree(data, loader, source="gateway.yaml")
    message = str(caught.value)
    assert message.startswith("gateway.yaml: 2 sealed value(s) cannot be opened")
    assert (
        "uplink.token: no keyring at" in message and "devices[0].connection.password: no keyring" in message
    )
    assert "gateway.yaml.keyring.json" in message
    assert "dev_very_secret" not in message and "hunter2" not in message
    assert caught.value.key == "error.sealed_value"


def test_a_damaged_token_or_a_key_the_ring_lacks_names_the_field() -> None:
    token = sealed.seal_string(RING, "pw")
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    data = {"a": {"b": [flipped]}, "c": sealed.seal_string(Keyring.new(), "x"), "d": token}
    with pytest.raises(ConfigurationError) as caught:
        sealed.open_tree(data, lambda: RING)
    message = str(caught.value)
    assert "a.b[0]: " in message and "c: sealed with key" in message and "\n  d:" not in message


def test_a_keyring_that_cannot_be_read_is_reported_for_the_field(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"x\.y: cannot read the keyring"):
        sealed.open_tree({"x": {"y": sealed.seal_string(RING, "s")}}, sealed.ring_loader(path))


COMMENTED = """\
# plant credentials, rotated yearly; sealed values look like sm4:… or sm4:AbC-_x
a: {one}   # first
b:
  - '{two}'
  - plain
c: {{d: "{three}", e: 1}}
"""


def test_reseal_text_reseals_tokens_under_the_current_key_and_keeps_everything_else() -> None:
    ring = Keyring.new()
    old_key = ring.current
    tokens = [sealed.seal_string(ring, s) for s in ("one", "two", "three")]
    text = COMMENTED.format(one=tokens[0], two=tokens[1], three=tokens[2])
    ring.rotate()
    resealed, count = sealed.reseal_text(text, ring)
    assert count == 3
    assert all(t not in resealed for t in tokens)
    skeleton = sealed.TOKEN.sub("T", resealed)
    assert skeleton == COMMENTED.format(one="T", two="T", three="T")
    values = yaml.safe_load(resealed)
    opened = sealed.open_tree(values, lambda: ring)
    assert opened == {"a": "one", "b": ["two", "plain"], "c": {"d": "three", "e": 1}}
    del ring.keys[old_key]  # only the new key is needed now
    assert sealed.open_tree(values, lambda: ring) == opened
    again, count = sealed.reseal_text(resealed, ring)
    assert (again, count) == (resealed, 0)  # already under the current key: left as they are


def test_reseal_text_refuses_a_damaged_token_naming_its_line() -> None:
    good = sealed.seal_string(RING, "one")
    text = COMMENTED.format(one=good, two=good[:-3], three=good)
    with pytest.raises(KeyringError, match=r"^line 4: "):
        sealed.reseal_text(text, RING)


def _all_fields(place: sealed.Place) -> bool:
    return bool(place) and place[-1] in ("password", "token", "secret")


def test_seal_yaml_fields_replaces_exactly_the_chosen_scalars() -> None:
    text = (
        "# header\n"
        "token: plain-token   # keep me\n"
        "list:\n"
        "  - {password: 'it''s', user: admin}\n"
        '  - password: "quoted \\u00e9"\n'
        "    secret: |\n"
        "      block text\n"
        "    after: 1\n"
        "  - password: ~\n"
        "  - password: ''\n"
        "other: plain-token\n"
    )
    out, done, already = sealed.seal_yaml_fields(text, RING, _all_fields)
    assert done == ["token", "list[0].password", "list[1].password", "list[1].secret"]
    assert already == []
    assert sealed.TOKEN.sub("T", out) == (
        "# header\n"
        "token: T   # keep me\n"
        "list:\n"
        "  - {password: T, user: admin}\n"
        "  - password: T\n"
        "    secret: T\n"
        "    after: 1\n"
        "  - password: ~\n"
        "  - password: ''\n"
        "other: plain-token\n"
    )
    assert sealed.open_tree(yaml.safe_load(out), lambda: RING) == yaml.safe_load(text)
    again, done, already = sealed.seal_yaml_fields(out, RING, _all_fields)
    assert (again, done) == (out, [])
    assert already == ["token", "list[0].password", "list[1].password", "list[1].secret"]


def test_seal_yaml_fields_keeps_windows_line_endings() -> None:
    text = "a: 1\r\ntoken: t0k3n\r\nb: 2\r\n"
    out, done, _ = sealed.seal_yaml_fields(text, RING, _all_fields)
    assert done == ["token"] and sealed.TOKEN.sub("T", out) == "a: 1\r\ntoken: T\r\nb: 2\r\n"


@pytest.mark.parametrize(
    "text", ["base: &pw s3cret\npassword: *pw\n", "password: &pw s3cret\n", "password: !!str 1234\n"]
)
def test_seal_yaml_fields_refuses_anchored_aliased_and_tagged_values(text: str) -> None:
    with pytest.raises(ValueError, match=r"^password: anchored or tagged"):
        sealed.seal_yaml_fields(text, RING, _all_fields)


def test_an_aliased_mapping_shares_its_sealed_value() -> None:
    text = "one: &conn {host: a, password: pw}\ntwo: *conn\n"
    out, done, _ = sealed.seal_yaml_fields(text, RING, _all_fields)
    assert done == ["one.password"]
    opened = sealed.open_tree(yaml.safe_load(out), lambda: RING)
    assert opened["two"] == opened["one"] == {"host": "a", "password": "pw"}


def test_dotted_places() -> None:
    assert sealed.dotted(("devices", 0, "connection", "password")) == "devices[0].connection.password"
    assert sealed.dotted((0, "a")) == "[0].a"
    assert sealed.dotted(()) == ""
