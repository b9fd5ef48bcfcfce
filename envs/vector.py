"""A numpy-batched ``EdgeRoute/SingleTurn-v0``: N independent users stepped as arrays.

``gym.make_vec("EdgeRoute/SingleTurn-v0", num_envs=N, vectorization_mode="vector_entry_point",
config={...})`` builds :class:`SingleTurnVectorEnv` (registered as the ``vector_entry_point``).
It is for fast training: every step is ~40 numpy operations over the N users instead of N
Python steps. Same config, observation layout, latency model, qualities and reward terms as the
scalar environment, with three documented differences:

* Queries are drawn uniformly *with* replacement from the split (the scalar env draws an
  episode without replacement). Arrivals are open loop as in the scalar environment (each
  query arrives a lognormal gap after the previous one arrived).
* The channel and the load are sampled exactly in law but only at the times the environment
  looks at them: the block-fading AR(1) path is advanced by ``k`` blocks in one draw
  (``y' = c^k y + sqrt(1 - c^(2k)) sigma z``, the k-step law of the same grid process), the
  load chain by one draw from row ``s`` of ``P^k``. The downlink of an answer sees the channel
  at its send time drawn the same way from the arrival-time state, as a branch that the user's
  path does not continue from (the next open-loop arrival may come before the answer is
  sent). So each look at a user's world is a faithful sample of the same processes, but the
  world is not identical across policies: there are no common random numbers here. Evaluate
  and compare policies with the scalar environment.
* ``info`` carries arrays (``latency_s``, ``quality``, ``edge_call``, ``semantic_p``) rather
  than the per-query dicts (no ``estimate``/``hindsight``); finished episodes reset in the same
  step (``autoreset_mode = SAME_STEP``) with ``final_obs``/``final_info`` for those users.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cost_models.errors import EdgeRouteError
from cost_models.link import fading_snr_db, transmit_time_array_s
from cost_models.router_cost import terms_from_parts
from envs.outcome import Outcome
from envs.single_turn import SingleTurnEnv
from envs.tradeoff import prices
from envs.world import lognormal_params

#: Longest gap (in load-chain steps) for which P^k is tabulated; beyond it P^k is the
#: stationary law to machine precision for the default chain (its mixing time is ~100 steps).
MAX_LOAD_STEPS = 4096



def set_vector_spaces(venv: VectorEnv, proto: SingleTurnEnv, num_envs: int) -> None:
    """The attributes every batched env of ``num_envs`` routing users of ``proto`` exposes
    (Gymnasium's VectorEnv contract): config, observation names, single and batched spaces."""
    venv.num_envs = num_envs
    venv.config = proto.config
    venv.observation_names = proto.observation_names
    venv.single_observation_space = proto.observation_space
    venv.single_action_space = spaces.Discrete(2)
    venv.observation_space = batch_space(venv.single_observation_space, num_envs)
    venv.action_space = spaces.MultiDiscrete(np.full(num_envs, 2))

class SingleTurnVectorEnv(VectorEnv):
    """N single-turn users as numpy arrays (see the module docstring)."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1024, config: dict[str, Any] | None = None, **kwargs):
        if not (isinstance(num_envs, int) and num_envs >= 1):
            raise EdgeRouteError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if kwargs.get("render_mode") is not None:
            raise EdgeRouteError("render_mode is not supported; allowed: None")
        self.proto = SingleTurnEnv(config=config)  # validates and prepares everything static
        p = self.proto
        if p.config["tradeoff_conditioning"] is not None:
            raise EdgeRouteError(
                "the batched SingleTurnVectorEnv does not draw per-user reward prices: "
                "tradeoff_conditioning must be None here (use EdgeRoute/SingleTurn-v0)"
            )
        self._prices = prices(p.config["reward_weights"])
        if p.stateful.active:
            raise EdgeRouteError(
                "the batched SingleTurnVectorEnv replays the default world only; this config "
                "turns a stateful-world feature on (envs.stateful_config): use gym.make per "
                "env, or envs.shared_vector.SharedEdgeVectorEnv for N users on one shared edge"
            )
        if p.config["reward_weights"].get("energy", 0.0) != 0.0:
            raise EdgeRouteError(
                "reward_weights['energy'] is not supported by the batched SingleTurnVectorEnv "
                "(it does not model device energy); allowed: 0.0, or use gym.make per env"
            )
        set_vector_spaces(self, p, num_envs)
        d = p.data
        self._static = d.static_obs
        self._layout = d.layout
        c = p.costs
        self._pf_e, self._dec_e = c.edge_prefill_s, c.edge_decode_s
        self._pf_d, self._dec_d_pred = c.device_prefill_s, c.device_decode_predicted_s
        self._dec_e_pred = c.edge_decode_predicted_s
        self._pred_down_bits = np.asarray(p._pred_down_bits_arr)  # per row (predicted length)
        self._lat_d = c.device_prefill_s + c.device_decode_s
        self._prompt_bits, self._answer_bits = c.prompt_bits, c.answer_bits
        self._prompt_tokens = np.asarray(d.prompt_tokens)
        self._quality = np.asarray(d.quality, dtype=np.float64).T  # [rows, 2]
        self._semantic_p = np.asarray(d.semantic_p)
        self._slow_lv, self._queue_lv = p.slowdown_per_level, p.queue_per_level_s
        cm = p.channel_model
        self._cm = cm
        self._coef = np.array([cm.shadow_corr, cm.fading_corr])
        lc = p.load_chain
        self._levels = lc.levels_array
        # One draw against row s of P^k moves the chain k steps (k-step law of the chain).
        self._load_cum = np.cumsum(lc.transition_powers(MAX_LOAD_STEPS), axis=2)
        self._load_cum[..., -1] = 1.0
        self._initial_cum = np.asarray(lc.initial_cum)
        self._load_step_s = lc.step_s
        self._reward_of = p.reward_of
        self._episode_len = int(self.config["episode_queries"])
        self._think_mu, self._think_sigma = lognormal_params(
            float(self.config["think_time_mean_s"]), float(self.config["think_time_cv"])
        )
        self._rng = np.random.default_rng()

    # ------------------------------------------------------------------ world state

    def _init_users(self, idx: np.ndarray) -> None:
        """Start users ``idx``: time 0, stationary channel and load, a fresh query."""
        n = len(idx)
        rng = self._rng
        self._t[idx] = 0.0
        self._block[idx] = 0
        self._chan[idx] = rng.standard_normal((n, 5)) * self._cm.scale0
        self._load[idx] = np.searchsorted(self._initial_cum, rng.random(n), "right").clip(
            0, len(self._levels) - 1
        )
        self._load_step[idx] = 0
        self._last[idx] = -1
        self._steps[idx] = 0
        self._row[idx] = rng.integers(0, len(self._static), n)

    def _advance_channel(self, chan: np.ndarray, block: np.ndarray, new_block: np.ndarray):
        """The channel state ``new_block - block`` blocks later (k-step law of the AR(1))."""
        k = (new_block - block).astype(np.float64)
        a_k = self._coef[0] ** k
        r_k = self._coef[1] ** k
        z = self._rng.standard_normal(chan.shape)
        out = np.empty_like(chan)
        out[:, 0] = a_k * chan[:, 0] + np.sqrt(np.maximum(0.0, 1 - a_k * a_k)) * (
            self._cm.shadow_std_db * z[:, 0]
        )
        out[:, 1:] = r_k[:, None] * chan[:, 1:] + np.sqrt(np.maximum(0.0, 1 - r_k * r_k))[
            :, None
        ] * (z[:, 1:] / math.sqrt(2.0))
        return out

    def _snr_db(self, chan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uplink, downlink) SNR of each user's state: ``cost_models.link.fading_snr_db``."""
        cm = self._cm
        return (
            fading_snr_db(cm.mean_ul_db, chan[:, 0], chan[:, 1], chan[:, 3]),
            fading_snr_db(cm.mean_dl_db, chan[:, 0], chan[:, 2], chan[:, 4]),
        )

    def _tx_s(self, bits: np.ndarray, rate: np.ndarray) -> np.ndarray:
        cm = self._cm
        return transmit_time_array_s(bits, rate, cm.access_latency_s, cm.outage_penalty_s)

    def _observe(self) -> None:
        """Channel and load at each user's current time, and the observation."""
        block = (self._t / self._cm.block_s).astype(np.int64)
        self._chan = self._advance_channel(self._chan, self._block, block)
        self._block = block
        load_step = (self._t / self._load_step_s).astype(np.int64)
        k = np.minimum(load_step - self._load_step, MAX_LOAD_STEPS)
        cum = self._load_cum[k, self._load]
        self._load = (cum < self._rng.random(self.num_envs)[:, None]).sum(axis=1)
        self._load_step = load_step
        self._ul_db, self._dl_db = self._snr_db(self._chan)
        rate = self._cm.rates_bps
        self._ul_bps = rate(self._ul_db)
        self._dl_bps = rate(self._dl_db)
        obs = self._static[self._row]
        self._layout.write_link(
            obs, self._ul_db, self._dl_db, self._ul_bps, self._dl_bps, self._levels[self._load]
        )
        self._layout.write_last_model(obs, self._last)
        # The router's estimate at the arrival (as the scalar env: predicted output lengths).
        row, load = self._row, self._load
        est = terms_from_parts(
            self._pf_d[row], self._pf_d[row], self._dec_d_pred[row],
            *(self._tx_s(self._prompt_bits[row], self._ul_bps),) * 2, self._queue_lv[load],
            *(self._pf_e[row],) * 2, self._dec_e_pred[row] * self._slow_lv[load],
            self._tx_s(self._pred_down_bits[row], self._dl_bps),
        )  # fmt: skip
        self._layout.write_estimates(obs, est["device"]["total_s"], est["edge"]["total_s"])
        self._layout.write_tradeoff(obs, self._prices)
        self._obs = obs

    # ------------------------------------------------------------------ VectorEnv API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options:
            raise EdgeRouteError(
                "SingleTurnVectorEnv.reset takes no options; pass config to gym.make_vec"
            )
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        n = self.num_envs
        self._t = np.zeros(n)
        self._block = np.zeros(n, dtype=np.int64)
        self._chan = np.zeros((n, 5))
        self._load = np.zeros(n, dtype=np.int64)
        self._load_step = np.zeros(n, dtype=np.int64)
        self._last = np.full(n, -1, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._row = np.zeros(n, dtype=np.int64)
        self._init_users(np.arange(n))
        self._observe()
        return self._obs, {"semantic_p": self._semantic_p[self._row]}

    def step(self, actions):
        a = np.asarray(actions)
        n = self.num_envs
        if not (
            a.shape == (n,)
            and np.issubdtype(a.dtype, np.integer)
            and (a.min() >= 0 and a.max() <= 1)
        ):
            raise EdgeRouteError(
                f"actions must be {n} integers, each 0 (device) or 1 (edge) (shape ({n},)); "
                f"got {actions!r}"
            )
        a = a.astype(np.int64, copy=False)
        row, load = self._row, self._load
        edge = a == 1
        # Edge path: uplink now, queue, prefill, slowed decode, downlink when the answer leaves.
        up_s = self._tx_s(self._prompt_bits[row], self._ul_bps)
        queue_s = self._queue_lv[load]
        compute_e = self._pf_e[row] + self._dec_e[row] * self._slow_lv[load]
        t_send = self._t + up_s + queue_s + compute_e
        # The downlink sees the channel at the send time: drawn from the k-step law given the
        # arrival-time state, as a branch (the user's state stays at the arrival, since the
        # next open-loop arrival may come before this answer is sent).
        send_block = np.where(edge, (t_send / self._cm.block_s).astype(np.int64), self._block)
        _, dl_send_db = self._snr_db(self._advance_channel(self._chan, self._block, send_block))
        down_s = self._tx_s(self._answer_bits[row], self._cm.rates_bps(dl_send_db))
        lat_e = up_s + queue_s + compute_e + down_s
        latency = np.where(edge, lat_e, self._lat_d[row])
        served = Outcome(
            action=a,
            quality=self._quality[row, a],
            latency_s=latency,
            latency=(),  # per-user breakdowns are not reported by the batched env
            switched=(self._last >= 0) & (a != self._last),
            recomputed_tokens=0,
            uplink_tokens=self._prompt_tokens[row] * edge,
            uplink_bytes=self._prompt_bits[row] / 8.0 * edge,
            time_s=self._t + latency,
            row=row,
        )
        reward = self._reward_of(served)
        info: dict[str, Any] = {
            "latency_s": latency,
            "quality": served.quality,
            "edge_call": edge,
            "switched": served.switched,
        }
        self._last = a
        self._steps += 1
        terminated = self._steps >= self._episode_len
        # Next query: open-loop arrivals, a gap after this query's arrival (as the scalar env).
        if self._think_sigma > 0:
            gap = self._rng.lognormal(self._think_mu, self._think_sigma, self.num_envs)
        else:
            gap = float(self.config["think_time_mean_s"])
        self._t = self._t + gap
        self._row = self._rng.integers(0, len(self._static), self.num_envs)
        done = np.flatnonzero(terminated)
        if len(done):
            self._observe()
            info["final_obs"] = self._obs.copy()
            info["_final_obs"] = terminated.copy()
            self._init_users(done)
        self._observe()
        info["semantic_p"] = self._semantic_p[self._row]
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._obs, reward, terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        self.proto.close()


def run_vector_benchmark(quick: bool = False, num_envs: int = 1024) -> dict[str, Any]:
    """Batched steps per second (user-steps: num_envs per ``step()`` call), random actions."""
    import gymnasium as gym

    try:
        env = gym.make_vec(
            "EdgeRoute/SingleTurn-v0", num_envs=num_envs,
            vectorization_mode="vector_entry_point", config={"benchmark": "mmlu"},
        )  # fmt: skip
        used = "mmlu"
    except EdgeRouteError:
        env = gym.make_vec(
            "EdgeRoute/SingleTurn-v0", num_envs=num_envs,
            vectorization_mode="vector_entry_point", config={"benchmark": "synthetic"},
        )  # fmt: skip
        used = "synthetic (mmlu not prepared)"
    calls = 200 if quick else 2000
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(calls, num_envs))
    env.reset(seed=0)
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    elapsed = time.perf_counter() - t0
    env.close()
    return {
        "batched_steps_per_s": calls * num_envs / elapsed,
        "batched_num_envs": num_envs,
        "batched_trace": used,
    }
