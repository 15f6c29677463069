"""The reconnect policy alone: delays by what failed, with the randomness injected."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgcluster_tui.core import backoff
from pgcluster_tui.core.backoff import (
    AFTER_STABLE_SESSION,
    STABLE_SESSION_SECONDS,
    Failure,
    ReconnectPolicy,
)


def low(a: float, b: float) -> float:
    """The lowest draw."""
    return a


def high(a: float, b: float) -> float:
    """The highest draw."""
    return b


def middle(a: float, b: float) -> float:
    """No jitter."""
    return (a + b) / 2


@pytest.mark.parametrize(("uniform", "expected"), [(low, 1.0), (high, 2.0)])
def test_refused_attempts_retry_every_one_to_two_seconds_forever(
    uniform: Callable[[float, float], float], expected: float
) -> None:
    policy = ReconnectPolicy(30.0, uniform=uniform)
    delays = [policy.attempt_failed(Failure.REFUSED) for _ in range(100)]
    assert set(delays) == {expected}
    assert policy.attempt == 100
    assert policy.exponent == 0


def test_a_small_cap_bounds_refused_retries_and_keeps_jitter() -> None:
    assert ReconnectPolicy(0.6, uniform=low).attempt_failed(Failure.REFUSED) == 0.3
    assert ReconnectPolicy(0.6, uniform=high).attempt_failed(Failure.REFUSED) == 0.6
    assert ReconnectPolicy(1.5, uniform=low).attempt_failed(Failure.REFUSED) == 0.75


@pytest.mark.parametrize("failure", [Failure.LOAD, Failure.CONFIG])
def test_load_and_configuration_back_off_exponentially_up_to_the_cap(failure: Failure) -> None:
    policy = ReconnectPolicy(5.0, uniform=middle)
    delays = [policy.attempt_failed(failure) for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert (policy.attempt, policy.exponent) == (6, 6)


def test_jitter_is_twenty_percent_and_never_passes_the_cap() -> None:
    draws: list[tuple[float, float]] = []

    def record(a: float, b: float) -> float:
        draws.append((a, b))
        return b

    policy = ReconnectPolicy(3.0, uniform=record)
    assert [policy.attempt_failed(Failure.CONFIG) for _ in range(4)] == [0.6, 1.2, 2.4, 3.0]
    assert set(draws) == {(0.8, 1.2)}


def test_attempt_and_exponent_are_counted_apart() -> None:
    policy = ReconnectPolicy(30.0, uniform=middle)
    policy.attempt_failed(Failure.REFUSED)
    policy.attempt_failed(Failure.REFUSED)
    assert (policy.attempt, policy.exponent) == (2, 0)
    # The first load failure after refusals is the first step, not the third.
    assert policy.attempt_failed(Failure.LOAD) == 0.5
    assert (policy.attempt, policy.exponent) == (3, 1)
    # A refusal in between neither grows nor resets the exponent.
    assert policy.attempt_failed(Failure.REFUSED) == 1.5
    assert policy.attempt_failed(Failure.CONFIG) == 1.0


def test_a_stable_session_reconnects_at_once_and_resets_everything() -> None:
    policy = ReconnectPolicy(30.0, uniform=middle)
    for _ in range(3):
        policy.attempt_failed(Failure.CONFIG)
    assert policy.session_ended(STABLE_SESSION_SECONDS) == AFTER_STABLE_SESSION == 0.2
    assert (policy.attempt, policy.exponent) == (0, 0)
    assert policy.attempt_failed(Failure.CONFIG) == 0.5


def test_young_deaths_in_a_row_lengthen_the_wait_until_a_session_lasts() -> None:
    policy = ReconnectPolicy(30.0, uniform=middle)
    young = STABLE_SESSION_SECONDS - 0.1
    assert [policy.session_ended(young) for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.attempt == 0
    # An outage after a young death: refused attempts still retry every 1 to 2 s.
    assert policy.attempt_failed(Failure.REFUSED) == 1.5
    assert policy.session_ended(STABLE_SESSION_SECONDS + 5) == 0.2
    assert policy.session_ended(young) == 0.5


def test_the_stable_threshold_is_read_when_a_session_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backoff, "STABLE_SESSION_SECONDS", 3.0)
    assert ReconnectPolicy(uniform=middle).session_ended(3.0) == 0.2
