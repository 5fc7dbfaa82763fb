"""A sequence model of remaining useful life on CPU PyTorch (the optional ``sequence`` extra): a
one-dimensional convolutional network over the last ``window`` cycles of a unit's normalised sensors,
in the manner of the deep CNNs published on C-MAPSS (Li, Ding and Sun 2018; MS-DCNN 2020).

It shares the gradient-boosting model's front end (regimes.py: operating regimes found by k-means, each
sensor z-scored per regime with healthy cycles' statistics, constant sensors dropped) and its interface
(fit, predict, predict_interval, to_dict/from_dict), so the CLI, the registry and the monitor take
either. A window that reaches before the first cycle repeats the first cycle (what was known then).

Training: every cycle of every training unit ends one window; the target is the remaining life capped
at ``cap``; Adam on the squared error with early stopping on units held out (``validation``), the
best epoch's weights kept. Prediction intervals: split-conformal on the held-out units' residuals at
test-like cuts, as for the boosting model. The weights are saved as JSON numbers, nothing pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indunet.apps.phm.histories import Fleet, History, ModelError
from indunet.apps.phm.model import Calibration
from indunet.apps.phm.regimes import Normaliser
from indunet.apps.phm.truncation import cut_lengths

FORMAT = "indunet.phm.sequence/1"
AGE_SCALE = 100.0


@dataclass(frozen=True)
class SequenceConfig:
    cap: float = 125.0
    window: int = 30
    channels: int = 32
    kernel: int = 9
    dense: int = 64
    dropout: float = 0.2
    epochs: int = 150
    patience: int = 30
    batch: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    """AdamW's decoupled weight decay: runs to failure are few, and the network would learn each
    training unit's noise by heart without it."""
    validation: float = 0.2
    """Share of the training units held out for early stopping and interval calibration."""
    healthy_cycles: int = 50
    draws: int = 5
    bands: int = 3
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0 or not 1 <= self.kernel <= 31:
            raise ModelError("kernel must be an odd number of cycles from 1 to 31")
        if not 2 <= self.window <= 500:
            raise ModelError("window must be from 2 to 500 cycles")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelError("the sequence model needs PyTorch: pip install 'indunet[sequence]'") from None
    return torch


def _network(torch: Any, inputs: int, config: SequenceConfig) -> Any:
    nn = torch.nn
    pad = config.kernel // 2
    return nn.Sequential(
        nn.Conv1d(inputs, config.channels, config.kernel, padding=pad),
        nn.Tanh(),
        nn.Conv1d(config.channels, config.channels, config.kernel, padding=pad),
        nn.Tanh(),
        nn.Conv1d(config.channels, config.channels, config.kernel, padding=pad),
        nn.Tanh(),
        nn.Conv1d(config.channels, 1, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Dropout(config.dropout),
        nn.Linear(config.window, config.dense),
        nn.Tanh(),
        nn.Linear(config.dense, 1),
    )


class SequenceModel:
    def __init__(self, config: SequenceConfig | None = None) -> None:
        self.config = config or SequenceConfig()
        self.normaliser: Normaliser | None = None
        self.state: dict[str, np.ndarray] = {}
        self.rounds = 0
        """Training epochs of the weights kept (the boosting model's rounds)."""
        self.calibration: Calibration | None = None
        self._net: Any = None

    @property
    def sensors(self) -> tuple[str, ...]:
        return self.normaliser.sensors if self.normaliser else ()

    # -- windows ---------------------------------------------------------------------------------------

    def _normalised(self, history: History) -> np.ndarray:
        if self.normaliser is None:
            raise ModelError("the model is not fitted")
        z = self.normaliser.transform(history)
        # The unit's age as one more channel: how long it has run says much when the sensors are noisy.
        age = np.asarray(history.time, dtype=np.float64)[:, None] / AGE_SCALE
        return np.concatenate([z, age], axis=1)

    def _windows(self, z: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Windows (n, channels, window) ending at each index of ``ends``."""
        w = self.config.window
        padded = np.concatenate([np.repeat(z[:1], w - 1, axis=0), z])
        index = ends[:, None] + np.arange(w)[None, :]
        return np.ascontiguousarray(padded[index].transpose(0, 2, 1), dtype=np.float32)

    # -- fitting ---------------------------------------------------------------------------------------

    def fit(self, fleet: Fleet) -> SequenceModel:
        torch = _torch()
        config = self.config
        if len(fleet) < 4:
            raise ModelError("fitting needs at least four runs to failure")
        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        rng = np.random.default_rng(config.seed)
        self.normaliser = Normaliser.fit(fleet, config.healthy_cycles, config.seed)
        order = rng.permutation(len(fleet))
        held = max(2, round(len(fleet) * config.validation))
        train = [fleet.histories[i] for i in order[held:]]
        valid = [fleet.histories[i] for i in order[:held]]
        x, y = self._examples(train)
        vx, vy = self._examples(valid)
        net = _network(torch, x.shape[1], config)
        optimiser = torch.optim.AdamW(
            net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        tvx, tvy = torch.from_numpy(vx), torch.from_numpy(vy)
        best, best_state, waited = float("inf"), None, 0
        generator = torch.Generator().manual_seed(config.seed)
        for epoch in range(config.epochs):
            net.train()
            for batch in torch.randperm(len(tx), generator=generator).split(config.batch):
                optimiser.zero_grad()
                loss = torch.mean((net(tx[batch]).squeeze(1) - ty[batch]) ** 2)
                loss.backward()
                optimiser.step()
            net.eval()
            with torch.no_grad():
                error = float(torch.mean((net(tvx).squeeze(1) - tvy) ** 2))
            if error < best - 1e-6:
                best, waited, self.rounds = error, 0, epoch + 1
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= config.patience:
                    break
        assert best_state is not None
        net.load_state_dict(best_state)
        net.eval()
        self._net = net
        self.state = {k: v.numpy().copy() for k, v in best_state.items()}
        self._calibrate(valid, rng)
        return self

    def _examples(self, histories: list[History]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for history in histories:
            z = self._normalised(history)
            xs.append(self._windows(z, np.arange(len(history))))
            # Targets as a share of the cap: the network's last layer works near unit scale.
            ys.append((np.minimum(history.rul(), self.config.cap) / self.config.cap).astype(np.float32))
        return np.concatenate(xs), np.concatenate(ys)

    def _calibrate(self, valid: list[History], rng: np.random.Generator) -> None:
        cut, true = [], []
        for history in valid:
            for length in cut_lengths(history, rng, self.config.draws):
                cut.append(history.until(int(length)))
                true.append(float(history.rul()[length - 1]))
        predicted = self.predict(Fleet(cut, (), self.sensors))
        quantiles = np.linspace(0, 1, self.config.bands + 1)[1:-1]
        edges = np.quantile(predicted, quantiles) if len(quantiles) else np.empty(0)
        self.calibration = Calibration(predicted, np.asarray(true), np.asarray(edges, dtype=np.float64))

    # -- prediction ------------------------------------------------------------------------------------

    def _network(self) -> Any:
        if self._net is None:
            if not self.state:
                raise ModelError("the model is not fitted")
            torch = _torch()
            inputs = self.state["0.weight"].shape[1]
            net = _network(torch, inputs, self.config)
            net.load_state_dict({k: torch.from_numpy(v) for k, v in self.state.items()})
            net.eval()
            self._net = net
        return self._net

    def predict(self, fleet: Fleet) -> np.ndarray:
        """The remaining life at the last cycle of each history, in fleet order."""
        torch = _torch()
        windows = np.concatenate(
            [self._windows(self._normalised(h), np.asarray([len(h) - 1])) for h in fleet.histories]
        )
        with torch.no_grad():
            out = self._network()(torch.from_numpy(windows)).squeeze(1).numpy()
        return np.maximum(np.asarray(out, dtype=np.float64) * self.config.cap, 0.0)

    def predict_interval(self, fleet: Fleet, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.calibration is None:
            raise ModelError("the model has no calibration")
        return self.calibration.intervals(self.predict(fleet), level)

    # -- persistence -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        if self.normaliser is None or not self.state:
            raise ModelError("the model is not fitted")
        return {
            "format": FORMAT,
            "config": self.config.to_dict(),
            **self.normaliser.to_dict(),
            "rounds": self.rounds,
            "weights": {
                k: {"shape": list(v.shape), "values": v.ravel().tolist()} for k, v in self.state.items()
            },
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"not a {FORMAT} model")
        try:
            model = cls(SequenceConfig(**data["config"]))
            model.normaliser = Normaliser.from_dict(data)
            model.rounds = int(data["rounds"])
            model.state = {
                k: np.asarray(v["values"], dtype=np.float32).reshape(v["shape"])
                for k, v in data["weights"].items()
            }
            model.calibration = Calibration.from_dict(data["calibration"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"a damaged {FORMAT} model: {exc}") from None
        return model

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
