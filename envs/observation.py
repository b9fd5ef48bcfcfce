"""The observation: slot names, finite bounds, the one encoder, and the embedding reduction.

Every slot is a float32 with finite bounds; values are clipped into them. Quantities that span
orders of magnitude are log-scaled (``log1p`` of token counts), SNRs are divided by 10 dB and
clipped, so that an MLP policy sees inputs of order one without a normalising wrapper. The name
of each slot says its transform; :data:`SLOT_DOCS` explains each one.

:class:`ObservationLayout` is the one encoder of these slots, used by every environment
(single-turn, multi-turn and the batched vector env): the static slots of each trace row once
(:meth:`~ObservationLayout.static`), the link and load slots vectorised over many rows
(:meth:`~ObservationLayout.write_link`, :meth:`~ObservationLayout.write_last_model`), and all
dynamic slots of one row on Python floats (:meth:`~ObservationLayout.write_state`, the
multi-turn step). A new slot is a row of :data:`SCALAR_SLOTS` and a line in these methods.

Embedding handling (config ``observation.embedding``):

* ``"pca"`` (default): project onto the top ``pca_dim`` principal components of the **train**
  split's embeddings (never validation/test, so nothing leaks), whitened (divided by each
  component's standard deviation), clipped to [-5, 5]. The fit is cached in-process and on disk
  under ``$EDGEROUTE_CACHE_DIR/pca`` keyed by a hash of the train embeddings.
* ``"full"``: every embedding dimension standardised with the train mean and standard
  deviation, clipped to [-5, 5].
* ``"none"``: no embedding slots (the semantic score still carries the scorer's judgement).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError
from envs.tradeoff import EDGE_CALL_PRICE_BOUNDS, LATENCY_PRICE_BOUNDS_PER_S

#: Clip range of standardised embedding coordinates.
EMBEDDING_CLIP: float = 5.0
#: Upper bound of every ``log1p`` token slot: log1p(2**20) ~ 13.9, above any context length.
LOG_TOKENS_MAX: float = float(np.log1p(2.0**20))
#: SNR range kept in the observation, in dB (clipped): below -20 dB every link here is in outage,
#: above 60 dB the rate no longer limits latency.
SNR_RANGE_DB: tuple[float, float] = (-20.0, 60.0)
#: Upper bound of the ``log1p_*_mbps`` rate slots (e^10 - 1 ~ 22 Gbit/s).
RATE_SLOT_MAX: float = 10.0
#: Upper bound of the ``turn_index/10`` slot (turn 50 and beyond saturate).
TURN_INDEX_MAX: float = 5.0
#: Upper bound of the ``log1p_estimate_*_s`` slots: log1p(10^4 s) ~ 9.2, above any turn here
#: (the channel's outage penalty and a recompute of a long dialogue stay well below it).
LOG_SECONDS_MAX: float = float(np.log1p(1e4))
#: Bound of the ``estimate_gap_s/10`` slot: +-50 s of T_edge - T_device (clipped).
GAP_SLOT_MAX: float = 5.0

#: The non-embedding slots, in order: (name, low, high, meaning).
SCALAR_SLOTS: tuple[tuple[str, float, float, str], ...] = (
    ("semantic_p", 0.0, 1.0, "scorer's P(large model needed) for the pending query"),
    ("log1p_prompt_tokens", 0.0, LOG_TOKENS_MAX, "log1p of this turn's user tokens"),
    ("log1p_history_tokens", 0.0, LOG_TOKENS_MAX, "log1p of the dialogue context so far"),
    (
        "log1p_predicted_output_tokens_device",
        0.0,
        LOG_TOKENS_MAX,
        "log1p of the predicted answer length of the device model (train-split mean)",
    ),
    (
        "log1p_predicted_output_tokens_edge",
        0.0,
        LOG_TOKENS_MAX,
        "log1p of the predicted answer length of the edge model (train-split mean)",
    ),
    (
        "uplink_snr_db/10",
        SNR_RANGE_DB[0] / 10,
        SNR_RANGE_DB[1] / 10,
        "uplink SNR now, dB / 10, clipped",
    ),
    (
        "downlink_snr_db/10",
        SNR_RANGE_DB[0] / 10,
        SNR_RANGE_DB[1] / 10,
        "downlink SNR now, dB / 10, clipped",
    ),
    ("log1p_uplink_mbps", 0.0, RATE_SLOT_MAX, "log1p of the uplink Shannon rate now, Mbit/s"),
    (
        "log1p_downlink_mbps",
        0.0,
        RATE_SLOT_MAX,
        "log1p of the downlink Shannon rate now, Mbit/s",
    ),
    ("edge_utilisation", 0.0, 1.0, "edge server utilisation now"),
    ("device_kv_occupancy", 0.0, 1.0, "device KV cache use / device KV capacity"),
    ("log1p_device_cached_tokens", 0.0, LOG_TOKENS_MAX, "device model's valid cached prefix"),
    ("log1p_edge_cached_tokens", 0.0, LOG_TOKENS_MAX, "edge model's valid cached prefix"),
    ("last_model_device", 0.0, 1.0, "1 if the previous turn of this dialogue ran on the device"),
    ("last_model_edge", 0.0, 1.0, "1 if the previous turn of this dialogue ran on the edge"),
    ("turn_index/10", 0.0, TURN_INDEX_MAX, "0-based turn index in the dialogue / 10, clipped"),
    # The analytic rule's own inputs (cost_models.router_cost: info["estimate"][side]
    # ["total_s"], the T of S = p - alpha (T_edge - T_device)), so that PPO sees what the
    # rule sees: without them it would have to relearn the roofline and link budget.
    (
        "log1p_estimate_device_s",
        0.0,
        LOG_SECONDS_MAX,
        "log1p of the router's estimate T_device (s): predicted output, cache state",
    ),
    (
        "log1p_estimate_edge_s",
        0.0,
        LOG_SECONDS_MAX,
        "log1p of the router's estimate T_edge (s): channel, load, predicted output, cache",
    ),
    (
        "estimate_gap_s/10",
        -GAP_SLOT_MAX,
        GAP_SLOT_MAX,
        "the router's T_edge - T_device (s) / 10, clipped: the analytic rule's latency term",
    ),
    # The reward's prices (envs.tradeoff): drawn per episode under tradeoff_conditioning,
    # else the configured weights (constant).
    (
        "tradeoff_latency_price_per_s",
        *LATENCY_PRICE_BOUNDS_PER_S,
        "the reward's price of one second of latency (-reward_weights.latency), clipped",
    ),
    (
        "tradeoff_edge_call_price",
        *EDGE_CALL_PRICE_BOUNDS,
        "the reward's price of an edge call (-reward_weights.edge_call), clipped",
    ),
)
#: Upper bound of the ``log1p_*_age_s`` slots: log1p(1e4 s) ~ 9.2 (older, or never: clipped).
AGE_SLOT_MAX: float = float(np.log1p(1e4))

#: Slots appended when a stateful-world feature is on (``envs.stateful_config``): what a phone
#: can read. In that mode the link slots hold the device's rate ESTIMATES (SNR slots 0 unless
#: the channel estimate is exact on the SNR link) and ``edge_utilisation`` the observed load
#: (the reported KV use of a shared edge, the reported utilisation of the Markov edge).
WORLD_SLOTS: tuple[tuple[str, float, float, str], ...] = (
    ("reported_kv_usage", 0.0, 1.0, "edge KV-pool use in the newest load report (shared edge)"),
    ("reported_batch_fill", 0.0, 1.0, "edge running sequences / max_num_seqs, as reported"),
    ("log1p_reported_waiting", 0.0, LOG_TOKENS_MAX, "log1p of the requests waiting, as reported"),
    ("log1p_load_report_age_s", 0.0, AGE_SLOT_MAX, "log1p of the load report's age (s)"),
    ("log1p_rate_estimate_age_s", 0.0, AGE_SLOT_MAX, "log1p of the rate estimate's age (s)"),
    ("device_heat", 0.0, 1.0, "device heat (0 cold, 1 throttled steady state), as the OS reads"),
    ("device_speed", 0.0, 1.0, "device speed as a fraction of its cold peak (throttling)"),
    ("battery_fraction", 0.0, 1.0, "battery left (fraction), after this episode's energy"),
)

#: Name -> meaning of every scalar slot.
SLOT_DOCS: dict[str, str] = {name: doc for name, _, _, doc in SCALAR_SLOTS + WORLD_SLOTS}
#: Name -> index within the scalar block.
SCALAR_INDEX: dict[str, int] = {name: i for i, (name, _, _, _) in enumerate(SCALAR_SLOTS)}



class ObservationLayout:
    """Slot positions and bounds of an observation with ``embedding_dim`` embedding slots
    followed by :data:`SCALAR_SLOTS`, and the writers of every slot."""

    def __init__(self, embedding_dim: int, world: bool = False) -> None:
        k = self.embedding_dim = int(embedding_dim)
        slots = SCALAR_SLOTS + (WORLD_SLOTS if world else ())
        self.world = bool(world)
        self.names: list[str] = [f"embedding_{i}" for i in range(k)] + [
            name for name, *_ in slots
        ]
        self.low = np.asarray([-EMBEDDING_CLIP] * k + [lo for _, lo, _, _ in slots],
                              dtype=np.float32)  # fmt: skip
        self.high = np.asarray([EMBEDDING_CLIP] * k + [hi for _, _, hi, _ in slots],
                               dtype=np.float32)  # fmt: skip
        #: Slot name -> position in the observation.
        self.index: dict[str, int] = {name: k + i for i, (name, *_) in enumerate(slots)}
        if world:
            self._world = slice(self.index["reported_kv_usage"], self.index["battery_fraction"] + 1)
        i = self.index
        self._history = i["log1p_history_tokens"]
        #: The dynamic slots written as one run: uplink SNR .. last model (edge).
        self._state = slice(i["uplink_snr_db/10"], i["last_model_edge"] + 1)
        self._link = slice(i["uplink_snr_db/10"], i["edge_utilisation"] + 1)
        link_slots = ("uplink_snr_db/10", "downlink_snr_db/10", "log1p_uplink_mbps",
                      "log1p_downlink_mbps", "edge_utilisation")  # fmt: skip
        assert [i[s] for s in link_slots] == list(range(self._link.start, self._link.stop))
        self._last = (i["last_model_device"], i["last_model_edge"])
        self._estimate = slice(i["log1p_estimate_device_s"], i["estimate_gap_s/10"] + 1)
        self._tradeoff = slice(
            i["tradeoff_latency_price_per_s"], i["tradeoff_edge_call_price"] + 1
        )
        assert self._estimate.stop - self._estimate.start == 3
        assert self._tradeoff.stop - self._tradeoff.start == 2

    def static(
        self,
        embeddings: np.ndarray,
        semantic_p: np.ndarray,
        prompt_tokens: np.ndarray,
        predicted_output_tokens: tuple[np.ndarray, np.ndarray],
        turn_index: np.ndarray,
    ) -> np.ndarray:
        """float32 ``[n, dim]``: every slot that depends only on the trace row; the rest 0."""
        n, i = len(prompt_tokens), self.index
        obs = np.zeros((n, len(self.names)), dtype=np.float32)
        obs[:, : self.embedding_dim] = embeddings
        obs[:, i["semantic_p"]] = semantic_p
        obs[:, i["log1p_prompt_tokens"]] = np.minimum(np.log1p(prompt_tokens), LOG_TOKENS_MAX)
        for side, pred in zip(("device", "edge"), predicted_output_tokens, strict=True):
            obs[:, i[f"log1p_predicted_output_tokens_{side}"]] = np.minimum(
                np.log1p(pred), LOG_TOKENS_MAX
            )
        obs[:, i["turn_index/10"]] = np.minimum(turn_index / 10.0, TURN_INDEX_MAX)
        return obs

    def write_link(
        self,
        obs: np.ndarray,
        uplink_snr_db: np.ndarray,
        downlink_snr_db: np.ndarray,
        uplink_bps: np.ndarray,
        downlink_bps: np.ndarray,
        utilisation: np.ndarray,
    ) -> None:
        """Write the link and load slots of the rows of ``obs`` (``[n, dim]``), vectorised."""
        lo, hi = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0
        # The five slots are consecutive (SCALAR_SLOTS order): one block assignment.
        obs[:, self._link] = np.column_stack(
            (
                np.clip(uplink_snr_db / 10.0, lo, hi),
                np.clip(downlink_snr_db / 10.0, lo, hi),
                np.minimum(np.log1p(uplink_bps / 1e6), RATE_SLOT_MAX),
                np.minimum(np.log1p(downlink_bps / 1e6), RATE_SLOT_MAX),
                utilisation,
            )
        )

    def write_estimates(
        self, obs: np.ndarray, t_device_s: np.ndarray, t_edge_s: np.ndarray
    ) -> None:
        """Write the estimate slots of the rows of ``obs`` (``[n, dim]``), vectorised, from the
        router's per-side totals (``terms_from_parts(...)[side]["total_s"]``)."""
        td = np.asarray(t_device_s, dtype=np.float64)
        te = np.asarray(t_edge_s, dtype=np.float64)
        obs[:, self._estimate] = np.column_stack(
            (
                np.minimum(np.log1p(np.maximum(td, 0.0)), LOG_SECONDS_MAX),
                np.minimum(np.log1p(np.maximum(te, 0.0)), LOG_SECONDS_MAX),
                np.clip((te - td) / 10.0, -GAP_SLOT_MAX, GAP_SLOT_MAX),
            )
        )

    def write_estimate_row(self, obs_row: np.ndarray, t_device_s: float, t_edge_s: float) -> None:
        """:meth:`write_estimates` for one row on Python floats (the multi-turn step)."""
        gap = (t_edge_s - t_device_s) / 10.0
        obs_row[self._estimate] = (
            min(math.log1p(max(t_device_s, 0.0)), LOG_SECONDS_MAX),
            min(math.log1p(max(t_edge_s, 0.0)), LOG_SECONDS_MAX),
            gap if -GAP_SLOT_MAX <= gap <= GAP_SLOT_MAX else math.copysign(GAP_SLOT_MAX, gap),
        )

    def write_tradeoff(self, obs: np.ndarray, prices: tuple[float, float]) -> None:
        """Write the reward's ``(latency_price_per_s, edge_call_price)`` (``envs.tradeoff
        .prices``, already clipped) into every row of ``obs`` (``[n, dim]`` or one row)."""
        obs[..., self._tradeoff] = prices

    def write_last_model(self, obs: np.ndarray, last: np.ndarray) -> None:
        """Write the last-model one-hot of the rows of ``obs`` (``last`` -1: none yet)."""
        obs[:, self._last[0]] = last == 0
        obs[:, self._last[1]] = last == 1

    def write_state(
        self,
        obs_row: np.ndarray,
        history_tokens: float,
        uplink_snr_db: float,
        downlink_snr_db: float,
        uplink_bps: float,
        downlink_bps: float,
        utilisation: float,
        device_occupancy: float,
        device_cached_tokens: float,
        edge_cached_tokens: float,
        last: int,
    ) -> None:
        """Write every dynamic slot of one observation on Python floats (the multi-turn step):
        the same transforms and bounds as :meth:`write_link` and :meth:`static`."""
        lo, hi = SNR_RANGE_DB[0] / 10.0, SNR_RANGE_DB[1] / 10.0
        log1p = math.log1p
        ul = uplink_snr_db / 10.0
        dl = downlink_snr_db / 10.0
        ul_rate = log1p(uplink_bps / 1e6)
        dl_rate = log1p(downlink_bps / 1e6)
        obs_row[self._history] = min(log1p(history_tokens), LOG_TOKENS_MAX)
        obs_row[self._state] = (
            ul if lo <= ul <= hi else (lo if ul < lo else hi),
            dl if lo <= dl <= hi else (lo if dl < lo else hi),
            ul_rate if ul_rate < RATE_SLOT_MAX else RATE_SLOT_MAX,
            dl_rate if dl_rate < RATE_SLOT_MAX else RATE_SLOT_MAX,
            utilisation,
            device_occupancy,
            min(log1p(device_cached_tokens), LOG_TOKENS_MAX),
            min(log1p(edge_cached_tokens), LOG_TOKENS_MAX),
            1.0 if last == 0 else 0.0,
            1.0 if last == 1 else 0.0,
        )


    def write_world(
        self,
        obs_row: np.ndarray,
        kv_usage: float,
        batch_fill: float,
        waiting: float,
        load_age_s: float,
        rate_age_s: float,
        heat: float,
        speed: float,
        battery: float,
    ) -> None:
        """Write the :data:`WORLD_SLOTS` of one observation (clipped to their bounds)."""
        log1p = math.log1p
        clip01 = lambda x: 0.0 if not x > 0.0 else (1.0 if x > 1.0 else x)  # noqa: E731
        age = lambda a: AGE_SLOT_MAX if not a < 1e4 else log1p(max(a, 0.0))  # noqa: E731
        obs_row[self._world] = (
            clip01(kv_usage), clip01(batch_fill), min(log1p(max(waiting, 0.0)), LOG_TOKENS_MAX),
            age(load_age_s), age(rate_age_s), clip01(heat), clip01(speed), clip01(battery),
        )  # fmt: skip


def _cache_dir() -> Path:
    root = os.environ.get("EDGEROUTE_CACHE_DIR") or str(Path.home() / ".cache" / "edgeroute")
    return Path(root) / "pca"


_PCA_MEMO: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def fit_pca(train_embeddings: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, components [dim, d], std [dim])`` of the train embeddings, cached.

    ``dim`` is capped at the embedding dimension and at ``n_train - 1``.
    """
    x = np.ascontiguousarray(train_embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise EdgeRouteError(
            f"PCA needs at least 2 train embeddings of shape [n, d], got shape {x.shape}"
        )
    dim = int(min(dim, x.shape[1], len(x) - 1))
    key = (hashlib.blake2b(x.tobytes(), digest_size=16).hexdigest() + str(x.shape), dim)
    if key in _PCA_MEMO:
        return _PCA_MEMO[key]
    path = _cache_dir() / f"{key[0].split('(')[0]}_{x.shape[0]}x{x.shape[1]}_{dim}.npz"
    if path.exists():
        with np.load(path) as z:
            fit = (z["mean"], z["components"], z["std"])
    else:
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=0)
        _, s, vt = np.linalg.svd(x64 - mean, full_matrices=False)
        components = vt[:dim]
        std = s[:dim] / np.sqrt(len(x64) - 1)
        std = np.where(std > 1e-12, std, 1.0)
        fit = (mean.astype(np.float32), components.astype(np.float32), std.astype(np.float32))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, mean=fit[0], components=fit[1], std=fit[2])
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs a refit next time
    _PCA_MEMO[key] = fit
    return fit


def reduce_embeddings(
    embeddings: np.ndarray, train_mask: np.ndarray, mode: str, pca_dim: int
) -> np.ndarray:
    """The embedding block of the observation for every row (float32 ``[n, k]``, clipped)."""
    n = len(embeddings)
    if mode == "none":
        return np.zeros((n, 0), dtype=np.float32)
    train = embeddings[train_mask]
    if len(train) < 2:
        raise EdgeRouteError(
            f"observation.embedding={mode!r} needs >= 2 train-split rows to fit on, "
            f"the trace has {len(train)}"
        )
    if mode == "full":
        mean = train.mean(axis=0)
        std = train.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        out = (embeddings - mean) / std
    else:
        mean, components, std = fit_pca(train, pca_dim)
        out = ((embeddings - mean) @ components.T) / std
    return np.clip(out, -EMBEDDING_CLIP, EMBEDDING_CLIP).astype(np.float32)
