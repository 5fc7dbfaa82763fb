"""Message catalogs: English by default, Simplified Chinese alongside.

Catalogs are flat JSON files in ``indunet/locale`` (``en.json``, ``zh-CN.json``) keyed by dotted
message ids; values are ``str.format`` templates. A missing key falls back to English, then to the
key itself, so a forgotten translation never breaks a command.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "zh-CN")


def normalise_language(value: str | None) -> str:
    """'zh', 'zh_CN.UTF-8', 'zh-Hans' ... to 'zh-CN'; anything else to English."""
    if value and value.lower().replace("_", "-").startswith("zh"):
        return "zh-CN"
    return DEFAULT_LANGUAGE


@cache
def catalog(language: str) -> dict[str, str]:
    path = resources.files("indunet") / "locale" / f"{language}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def pick_language(accept_language: str | None) -> str:
    """The best catalog for an HTTP Accept-Language header (no q-value sorting needed for two)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    first = accept_language.split(",")[0].split(";")[0].strip()
    return normalise_language(first)


def cli_language() -> str:
    return normalise_language(os.environ.get("INDUNET_LANGUAGE") or os.environ.get("LANG"))


def translate(key: str, language: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    template = catalog(language).get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def localise_error(key: str | None, message: str, language: str, **params: Any) -> str:
    """An error's text in ``language``; a translation without placeholders keeps the English detail."""
    if not key or key not in catalog(language):
        return message
    template = catalog(language)[key]
    text = translate(key, language, **params)
    if language != DEFAULT_LANGUAGE and "{" not in template and message and message != text:
        return f"{text}（{message}）"
    return text
