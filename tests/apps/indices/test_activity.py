"""A machine's day from its samples: held time, gaps, day boundaries and counters, checked against a
second-by-second count."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.apps.indices.activity import daily_activity, daily_increments

S = 1_000_000
DAY = 86_400 * S


def test_samples_hold_until_the_next_or_the_gap_and_split_at_midnight() -> None:
    bounds = np.array([0, DAY, 2 * DAY])
    # Working from 23:00 to 01:00 across midnight, sampled each minute; then silent for two hours;
    # then idle (value 0) for an hour.
    ts = np.arange(23 * 3600, 25 * 3600, 60) * S
    values = np.full(len(ts), 1500.0)
    ts = np.concatenate([ts, np.arange(27 * 3600, 28 * 3600, 60) * S])
    values = np.concatenate([values, np.zeros(60)])
    connected, working = daily_activity(ts, values, bounds, above=0.0, max_gap_s=120, until_us=2 * DAY)
    # The last working sample (00:59) and the idle hour's last one each hold the full gap, two minutes.
    assert list(working) == [3600.0, 3660.0]
    assert list(connected) == [3600.0, 3660.0 + 3660.0]


def test_nothing_sampled_is_nothing_connected() -> None:
    empty = np.array([], dtype=np.int64)
    connected, working = daily_activity(empty, empty, np.array([0, DAY]), 0.0, 60, DAY)
    assert list(connected) == [0.0] and list(working) == [0.0]


def test_the_last_sample_speaks_only_until_now() -> None:
    connected, _ = daily_activity(
        np.array([100 * S]), np.array([1.0]), np.array([0, DAY]), 0.0, 3600, 130 * S
    )
    assert list(connected) == [30.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 400), st.floats(-5, 5, allow_nan=False)), min_size=1, max_size=60),
    st.integers(5, 200),
)
def test_it_agrees_with_counting_second_by_second(steps: list[tuple[int, float]], gap: int) -> None:
    ts = np.cumsum([s for s, _ in steps])
    values = np.array([v for _, v in steps])
    end = int(ts[-1]) + gap + 10
    bounds = np.array([0, end // 3, 2 * end // 3, end]) * S
    connected, working = daily_activity(ts * S, values, bounds, above=0.5, max_gap_s=gap, until_us=end * S)
    seconds_connected = np.zeros(end)
    seconds_working = np.zeros(end)
    for i, t in enumerate(ts):
        stop = min(int(ts[i + 1]) if i + 1 < len(ts) else end, int(t) + gap)
        seconds_connected[t:stop] = 1
        seconds_working[t:stop] = values[i] > 0.5
    cuts = bounds // S
    expected_c = [seconds_connected[cuts[i] : cuts[i + 1]].sum() for i in range(3)]
    expected_w = [seconds_working[cuts[i] : cuts[i + 1]].sum() for i in range(3)]
    assert list(connected) == expected_c and list(working) == expected_w


def test_counters_add_their_steps_per_day_and_survive_a_reset() -> None:
    bounds = np.array([0, DAY, 2 * DAY])
    ts = np.array([10, 20, DAY // S - 5, DAY // S + 10, DAY // S + 20]) * S
    parts = np.array([100.0, 103.0, 110.0, 2.0, 5.0])  # reset to 0 overnight, then 2 and 3 more
    assert list(daily_increments(ts, parts, bounds)) == [10.0, 5.0]
