"""KV-cache size and the per-side cache state of an append-only dialogue.

These rules are OUR reconstruction of the paper's switching cost (its exact model is not
public). The paper's point: the device's small model and the edge's large model do not share a
KV cache, so after a switch the new side must prefill (recompute) the dialogue history it did
not serve, and the edge must also receive that history as text over the uplink.

* Size: ``kv_bytes_per_token = 2 (K and V) x n_layers x n_kv_heads x head_dim x bytes`` (e.g.
  Kwon et al. 2023, vLLM, Sec. 2.2; grouped-query attention stores only the KV heads); the
  function lives in :mod:`cost_models.catalogue` with the specs and is re-exported here.
* The dialogue is append-only (user turn, answer, user turn, ...), so each side's valid cache
  is a PREFIX of the dialogue: one integer per side, ``cached_tokens[side]``.
* Serving a turn on side ``m`` prefills everything after ``m``'s cached prefix; the edge also
  uplinks that text. After serving, ``m`` caches the whole dialogue including its answer.
* Device memory is bounded (``device_capacity_tokens``): when the dialogue no longer fits, the
  cache is evicted and the next device turn recomputes everything (llama.cpp / MLC-style
  single-sequence caches have no partial paging on phones; modelled).
* The edge keeps an idle user's cache with probability ``exp(-idle_s / tau(u))``,
  ``tau(u) = EDGE_RETENTION_TAU_S (1 - u)``: LRU prefix caches (vLLM automatic prefix caching,
  SGLang RadixAttention) evict idle sequences sooner when busy (modelled).
* Optional, beyond the paper: a side may restore ITS OWN evicted cache by transferring the KV
  tensors over the link instead of recomputing them (:func:`migrate_time_s`), when faster.
  The device and edge models differ, so a cache is never migrated across models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cost_models.catalogue import ModelSpec, kv_bytes_per_token
from cost_models.errors import EdgeRouteError, require
from cost_models.link import transmit_time_s
from cost_models.roofline import prefill_time_s

SIDES: tuple[str, str] = ("device", "edge")

#: Mean retention time (s) of an idle user's KV cache on an idle edge server. Modelled:
#: prefix caches are LRU and live for minutes on a lightly loaded server.
EDGE_RETENTION_TAU_S = 300.0


def capacity_tokens(budget_bytes: float, model: ModelSpec | str, precision: str = "fp16") -> int:
    """How many tokens of KV cache fit in ``budget_bytes``."""
    require(budget_bytes >= 0, f"budget_bytes must be >= 0, got {budget_bytes!r}")
    return int(budget_bytes // kv_bytes_per_token(model, precision))


def edge_retention_probability_float(idle_s: float, utilisation: float) -> float:
    """:func:`edge_retention_probability` on Python floats without argument checks (the
    caller knows ``idle_s >= 0``): the scalar law, used per multi-turn environment step and
    by :func:`edge_retention_probability` for scalar inputs."""
    u = 0.0 if utilisation < 0.0 else (0.99 if utilisation > 0.99 else utilisation)
    return math.exp(-idle_s / (EDGE_RETENTION_TAU_S * (1.0 - u)))


def edge_retention_probability(idle_s: object, utilisation: object) -> np.ndarray | float:
    """P(the edge still holds the user's cache after ``idle_s`` idle seconds) (modelled)."""
    if isinstance(idle_s, (int, float)) and isinstance(utilisation, (int, float)):
        if idle_s < 0:
            raise EdgeRouteError(f"idle_s must be >= 0, got {idle_s!r}")
        return edge_retention_probability_float(float(idle_s), float(utilisation))
    t = np.asarray(idle_s, dtype=np.float64)
    u = np.clip(np.asarray(utilisation, dtype=np.float64), 0.0, 0.99)
    if t.size and np.min(t) < 0:
        raise EdgeRouteError(f"idle_s must be >= 0, got {idle_s!r}")
    p = np.exp(-t / (EDGE_RETENTION_TAU_S * (1.0 - u)))
    return float(p) if p.ndim == 0 else p


def migrate_time_s(
    model: ModelSpec | str,
    tokens: object,
    rate_bps: object,
    access_latency_s: float,
    precision: str = "fp16",
    outage_penalty_s: float = 1.0,
) -> np.ndarray | float:
    """Seconds to send ``tokens`` tokens' worth of the model's KV tensors over a link."""
    bits = 8.0 * kv_bytes_per_token(model, precision) * np.asarray(tokens, dtype=np.float64)
    return transmit_time_s(bits, rate_bps, access_latency_s, outage_penalty_s)


def restore_time_s(
    model: ModelSpec | str,
    hw: object,
    tokens: object,
    rate_bps: object,
    access_latency_s: float,
    precision: str = "fp16",
) -> tuple[np.ndarray | float, np.ndarray | bool]:
    """min(recompute, migrate) to restore a side's own evicted cache; and whether migrating."""
    recompute = np.asarray(prefill_time_s(model, hw, tokens, 0, precision))
    migrate = np.asarray(migrate_time_s(model, tokens, rate_bps, access_latency_s, precision))
    use = migrate < recompute
    best = np.where(use, migrate, recompute)
    if best.ndim == 0:
        return float(best), bool(use)
    return best, use


@dataclass(frozen=True)
class TurnPlan:
    """What serving one user turn on ``side`` costs in tokens, given the cache state.

    ``prefill_tokens = recomputed_tokens + new_user_tokens``; ``cached_tokens`` is the valid
    prefix reused; ``uplink_tokens`` is the text the edge must receive (0 on the device).
    """

    side: str
    new_user_tokens: int
    cached_tokens: int
    recomputed_tokens: int
    prefill_tokens: int
    uplink_tokens: int
    context_tokens: int  # tokens in context when decoding starts


@dataclass
class DialogueKVState:
    """Per-side cached prefix of one append-only dialogue (mutable; the env owns it)."""

    device_capacity_tokens: int = 1_000_000_000
    total_tokens: int = 0
    cached_tokens: dict[str, int] = field(default_factory=lambda: {"device": 0, "edge": 0})
    device_evictions: int = 0
    edge_evictions: int = 0

    def __post_init__(self) -> None:
        require(
            self.device_capacity_tokens >= 0,
            f"device_capacity_tokens must be >= 0, got {self.device_capacity_tokens!r}",
        )
        require(self.total_tokens >= 0, f"total_tokens must be >= 0, got {self.total_tokens}")
        for side in SIDES:
            self.cached_tokens.setdefault(side, 0)
            require(
                0 <= self.cached_tokens[side] <= self.total_tokens,
                f"cached_tokens[{side!r}] must be in [0, total_tokens]",
            )

    @staticmethod
    def _side(side: str) -> str:
        require(side in SIDES, f"side must be one of {SIDES}, got {side!r}")
        return side

    def reset(self) -> None:
        """Start a new dialogue: nothing cached anywhere."""
        self.total_tokens = 0
        self.cached_tokens = {"device": 0, "edge": 0}

    def plan_turn(self, side: str, new_user_tokens: int) -> TurnPlan:
        """Token accounting of serving the next user turn on ``side`` (state unchanged)."""
        self._side(side)
        new = int(new_user_tokens)
        if new < 1:  # checked without building the message first: this runs every env step
            raise EdgeRouteError(f"new_user_tokens must be >= 1, got {new_user_tokens!r}")
        cached = self.cached_tokens[side]
        recomputed = self.total_tokens - cached
        prefill = recomputed + new
        return TurnPlan(
            side=side,
            new_user_tokens=new,
            cached_tokens=cached,
            recomputed_tokens=recomputed,
            prefill_tokens=prefill,
            uplink_tokens=prefill if side == "edge" else 0,
            context_tokens=cached + prefill,
        )

    def commit_turn(self, side: str, new_user_tokens: int, output_tokens: int) -> TurnPlan:
        """Serve the turn on ``side``: the dialogue grows; ``side`` caches all of it."""
        plan = self.plan_turn(side, new_user_tokens)
        if int(output_tokens) < 0:
            raise EdgeRouteError(f"output_tokens must be >= 0, got {output_tokens!r}")
        self.grow(side, plan.new_user_tokens, int(output_tokens))
        return plan

    def grow(self, side: str, new_user_tokens: int, output_tokens: int) -> None:
        """The state change of :meth:`commit_turn` without its plan and argument checks: the
        dialogue grows by the turn; ``side`` caches all of it (the device evicts over
        capacity). For callers that serve already-validated trace rows every step (the
        multi-turn environment); ``side`` must be ``"device"`` or ``"edge"``, the token counts
        ints with ``new_user_tokens >= 1`` and ``output_tokens >= 0``."""
        total = self.total_tokens + new_user_tokens + output_tokens
        self.total_tokens = total
        if side == "device" and total > self.device_capacity_tokens:
            self.cached_tokens["device"] = 0  # over capacity: evict, next turn recomputes
            self.device_evictions += 1
        else:
            self.cached_tokens[side] = total

    def evict_edge(self) -> None:
        """The edge dropped this user's cache (retention draw failed)."""
        if self.cached_tokens["edge"] > 0:
            self.edge_evictions += 1
        self.cached_tokens["edge"] = 0

    def maybe_evict_edge(
        self, idle_s: float, utilisation: float, rng: np.random.Generator
    ) -> bool:
        """Draw whether the edge kept the cache over ``idle_s``; evict if not. True if evicted."""
        keep = rng.random() < edge_retention_probability(idle_s, utilisation)
        if not keep:
            self.evict_edge()
        return not keep

    def device_occupancy(self) -> float:
        """Fraction of the device KV capacity in use (0 when capacity is 0)."""
        cap = self.device_capacity_tokens
        return 0.0 if cap <= 0 else min(1.0, self.cached_tokens["device"] / cap)
