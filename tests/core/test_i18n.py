"""Message catalogs: every message the code names exists in Chinese, and CLI text in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indunet.core.i18n import catalog, localise_error, normalise_language, pick_language, translate

SRC = Path(__file__).resolve().parents[2] / "src" / "indunet"
KEY = re.compile(r'(?:key=|_t\()"((?:error|cli)\.[a-z_.]+)"')


def _keys_in_code() -> set[str]:
    return {k for path in SRC.rglob("*.py") for k in KEY.findall(path.read_text(encoding="utf-8"))}


def test_every_message_key_in_the_code_has_a_chinese_text() -> None:
    keys = _keys_in_code()
    assert len(keys) > 30, "the key pattern no longer matches the code"
    assert sorted(keys - set(catalog("zh-CN"))) == []


def test_cli_texts_exist_in_both_languages_with_the_same_placeholders() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    cli = {k for k in en if k.startswith("cli.")}
    assert cli == {k for k in zh if k.startswith("cli.")}
    for key in cli:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key


@pytest.mark.parametrize(
    ("given", "expected"),
    [("zh_CN.UTF-8", "zh-CN"), ("zh-Hans", "zh-CN"), ("en_US", "en"), (None, "en"), ("fr", "en")],
)
def test_language_names_are_normalised(given: str | None, expected: str) -> None:
    assert normalise_language(given) == expected


def test_accept_language_picks_the_first_choice() -> None:
    assert pick_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert pick_language("en-GB, zh;q=0.5") == "en"
    assert pick_language(None) == "en"


def test_missing_parameters_and_keys_never_raise() -> None:
    assert translate("no.such.key", "zh-CN") == "no.such.key"
    assert "{name}" in translate("error.no_tenant", "zh-CN")  # parameter not given: the template stays


def test_chinese_errors_keep_the_english_detail_when_the_template_has_no_placeholders() -> None:
    detail = "CSV header must name a 'ts' column"
    text = localise_error("error.bad_csv", detail, "zh-CN")
    assert text.startswith("CSV 请求体格式错误") and detail in text
    assert localise_error("error.no_tenant", "no tenant named 'x'", "zh-CN", name="x") == "租户 x 不存在。"
    assert localise_error("error.bad_csv", detail, "en") == detail
