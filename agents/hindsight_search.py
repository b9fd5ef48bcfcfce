"""The exact hindsight bound of one dialogue: the best action sequence given its realised world.

A dialogue of ``n`` turns is a decision tree: at turn ``t`` in state ``s`` action ``a`` (0
device, 1 edge) earns ``r`` and leads to state ``s'``. The environment's world (channel and load
paths, think times, retention draws, qualities) is fixed by the reset seed, so after the fact
``(r, s') = oracle(t, a, s)`` is a deterministic function and the best sequence is a search over
it. This module is that search, as pure functions of an oracle, so it can be tested against
brute force on small synthetic dialogues and then driven by the environment's own outcome
function (``hindsight_optimal`` policy):

* :func:`exhaustive`: depth-first over all ``2^n`` sequences, sharing prefixes (``2^(n+1) - 2``
  oracle calls); exact for any oracle.
* :func:`dynamic_programming`: the same recursion memoised on ``(t, state)``: exact whenever the
  state carries everything the future depends on (KV caches, last side, clock...); when two
  action prefixes reach the same state it solves the rest once. With a cache-only state
  (``(last side, device prefix, edge prefix)``) there are at most ``O(t^2)`` states at turn
  ``t``, so long dialogues stay cheap.
* :func:`best_sequence`: exhaustive while ``n <= max_exhaustive_turns`` (2^12 = 4,096
  sequences), dynamic programming beyond.

Ties go to the lower action (the device), so the plan is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from cost_models.errors import require

#: ``oracle(turn, action, state) -> (reward, next_state)``.
Oracle = Callable[[int, int, Hashable], tuple[float, Hashable]]
ACTIONS: tuple[int, int] = (0, 1)
#: Largest dialogue searched exhaustively by :func:`best_sequence`.
MAX_EXHAUSTIVE_TURNS = 12


@dataclass(frozen=True)
class Plan:
    """The best action sequence, its total reward, and how it was found."""

    actions: tuple[int, ...]
    reward: float
    method: str
    oracle_calls: int


def _check(n_turns: int) -> int:
    require(
        isinstance(n_turns, int) and n_turns >= 0, f"n_turns must be an int >= 0, got {n_turns!r}"
    )
    return n_turns


def exhaustive(n_turns: int, oracle: Oracle, state0: Hashable) -> Plan:
    """Best sequence by visiting every one of the ``2^n`` sequences (prefixes shared)."""
    n = _check(n_turns)
    calls = 0

    def best(t: int, state: Hashable) -> tuple[float, tuple[int, ...]]:
        nonlocal calls
        if t == n:
            return 0.0, ()
        top: tuple[float, tuple[int, ...]] | None = None
        for a in ACTIONS:
            r, nxt = oracle(t, a, state)
            calls += 1
            rest, seq = best(t + 1, nxt)
            if top is None or r + rest > top[0]:
                top = (r + rest, (a, *seq))
        return top  # type: ignore[return-value]

    value, actions = best(0, state0)
    return Plan(actions, value, "exhaustive", calls)


def dynamic_programming(n_turns: int, oracle: Oracle, state0: Hashable) -> Plan:
    """Best sequence by backward induction over ``(turn, state)`` (memoised recursion; the
    state must be hashable and carry everything later turns depend on)."""
    n = _check(n_turns)
    memo: dict[tuple[int, Hashable], tuple[float, int, Hashable]] = {}
    calls = 0

    def value(t: int, state: Hashable) -> float:
        nonlocal calls
        if t == n:
            return 0.0
        key = (t, state)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        top: tuple[float, int, Hashable] | None = None
        for a in ACTIONS:
            r, nxt = oracle(t, a, state)
            calls += 1
            v = r + value(t + 1, nxt)
            if top is None or v > top[0]:
                top = (v, a, nxt)
        memo[key] = top  # type: ignore[assignment]
        return top[0]  # type: ignore[index]

    total = value(0, state0)
    actions, state = [], state0
    for t in range(n):
        _, a, state = memo[(t, state)]
        actions.append(a)
    return Plan(tuple(actions), total, "dynamic_programming", calls)


def best_sequence(
    n_turns: int,
    oracle: Oracle,
    state0: Hashable,
    max_exhaustive_turns: int = MAX_EXHAUSTIVE_TURNS,
) -> Plan:
    """Exhaustive while ``n_turns <= max_exhaustive_turns``, dynamic programming beyond."""
    if _check(n_turns) <= max_exhaustive_turns:
        return exhaustive(n_turns, oracle, state0)
    return dynamic_programming(n_turns, oracle, state0)


def replay(actions: tuple[int, ...], oracle: Oracle, state0: Hashable) -> float:
    """Total reward of a given action sequence under the oracle (what a policy would earn)."""
    total, state = 0.0, state0
    for t, a in enumerate(actions):
        r, state = oracle(t, a, state)
        total += r
    return total
