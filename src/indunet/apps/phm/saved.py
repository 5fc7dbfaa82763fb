"""Remaining-useful-life models from their JSON documents, whichever kind wrote them (the boosting
model of model.py or the sequence model of sequence.py): the document's ``format`` says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indunet.apps.phm import model, sequence
from indunet.apps.phm.histories import ModelError

AnyModel = model.RulModel | sequence.SequenceModel
KINDS = ("gbm", "sequence")


def new(kind: str, config: dict[str, Any] | None = None) -> AnyModel:
    """An unfitted model of ``kind`` with ``config`` over that kind's defaults."""
    changes = config or {}
    if kind == "gbm":
        return model.RulModel(model.RulConfig.from_dict({**model.RulConfig().to_dict(), **changes}))
    if kind == "sequence":
        return sequence.SequenceModel(
            sequence.SequenceConfig(**{**sequence.SequenceConfig().to_dict(), **changes})
        )
    raise ModelError(f"unknown model kind {kind!r} (have: {', '.join(KINDS)})")


def from_dict(data: Any) -> AnyModel:
    found = data.get("format") if isinstance(data, dict) else None
    if found == sequence.FORMAT:
        return sequence.SequenceModel.from_dict(data)
    return model.RulModel.from_dict(data)


def load(path: Path) -> AnyModel:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: {exc}") from None
    return from_dict(data)
