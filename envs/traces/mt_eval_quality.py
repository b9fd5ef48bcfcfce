"""MODELLED per-turn quality for MT-Eval, calibrated to its published per-task scores.

No public source gives per-model, per-turn MT-Eval outcomes. What is published (Kwan et al.,
"MT-Eval: A Multi-Turn Capabilities Evaluation Benchmark for Large Language Models", EMNLP 2024
main, pp. 20153-20177, https://aclanthology.org/2024.emnlp-main.1124/, arXiv:2401.16745;
shipped in ``envs/traces/published/`` with their citation):

* ``mteval_task_scores.csv``: Table 2 (multi-turn, the model's own history) and Table 3
  (single-turn rewrites) per task, 0-10, for 10 models (the ``_multi`` cells equal the
  KwanWaiChung/MT-Eval README leaderboard; the ``_single`` cells come from a text transcription
  of the paper; see ``shared/data/README.md``);
* ``mteval_turn_facts.csv``: Refinement's first six vs last six turns for the six models of the
  three same-family pairs, Recollection with gold (GPT-4) vs own history for Qwen-chat-14B and
  Mixtral, and GPT-4's Recollection score (arXiv v1), from the same text transcription.

The model. For a same-family pair (default Qwen-chat-7B -> Qwen-chat-14B) and each row (one
user turn of one dialogue), with a seeded generator::

    x      tokens of history between the content the turn relies on (the document or
           instruction of turn 0) and the query; phi = log(1 + x / DISTANCE_SCALE_TOKENS)
    z_d    ~ N(0, 1), difficulty of dialogue d, shared by both models
    e_mt   ~ N(0, 1), per model and turn
    judge tasks (refinement, expansion, follow-up; GPT-4 judge 1-10):
           s = round(clip(c_mk - b_mk phi - DIFFICULTY_SD z_d + NOISE_SD e_mt, 1, 10))
    recollection (rule-scored, each turn 0 or 10):
           s = 10 [c_mk - b_mk phi - z_d + e_mt > 0]

``c_mk`` and ``b_mk`` are solved (nested bisection on the realised draws) per model ``m`` and
task ``k`` so that, over the turns MT-Eval scores:

* the mean equals the published multi-turn score (``<task>_multi``);
* Refinement: the first-six minus last-six mean equals the published drop (each Refinement
  dialogue chains two 6-turn tasks on one document, so the last six are further from it);
* Expansion and Recollection: the mean of the same draws at ``phi = 0`` (no history in between:
  the single-turn rewrite) equals the published single-turn score (``<task>_single``);
* Follow-up has no single-turn version: ``b`` is the model's Refinement slope (same judge,
  same kind of history: the assistant's earlier answers), and ``c`` hits the multi-turn mean.

So the large model's advantage depends on the turn: on the task (``c_lk - c_sk``), on the
distance to the recalled content and so on the history length (``b_sk - b_lk``: e.g. Qwen-chat-7B
loses more per distance than Qwen-chat-14B), and on the dialogue (``z_d`` with clipping: easy
dialogues are ties). Unscored turns: the instruction turns of Recollection ("Reply OK") are
ties at 10 (any model can acknowledge an instruction); Follow-up's two MT-Bench turns use the
Follow-up law. ``quality = s / 10``.

Whose answers form the history. The published multi-turn scores are with each model's *own*
answers as history, which is what a policy that always uses one side produces. When a dialogue
mixes sides, the history holds the other model's answers; MT-Eval shows that better history
helps (Recollection with the human-checked GPT-4 answers instead of the model's own:
Qwen-chat-14B 4.43 -> 7.00, Mixtral 3.21 -> 7.11, with GPT-4 itself at 9.61): errors propagate.
:func:`author_shift_points` is that effect: a turn's score moves by ``KAPPA x (mean score of the
answers in its history - mean score of the model's own answers there)``, with ``KAPPA`` the
mean over the two published cases of (gold - own) / (GPT-4 - own) (:func:`kappa`). The
environment applies it when the history is mixed (zero when one side served everything, so the
calibration above is unchanged).

``DIFFICULTY_SD``, ``NOISE_SD`` and ``DISTANCE_SCALE_TOKENS`` (the log form of the distance
effect) are our assumptions, not published figures. Every output built on this says
"modelled quality".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cost_models.errors import EdgeRouteError

TASKS: tuple[str, ...] = ("refinement", "expansion", "follow_up", "recollection")
JUDGE_TASKS: tuple[str, ...] = ("refinement", "expansion", "follow_up")
#: Column prefix of each task in ``mteval_task_scores.csv``.
_COLUMN = {"refinement": "refinement", "expansion": "expansion", "follow_up": "followup",
           "recollection": "recollection"}  # fmt: skip
#: The published tables shipped with the package (citation in ``published/README.md``).
SCORES_CSV = Path(__file__).with_name("published") / "mteval_task_scores.csv"
FACTS_CSV = Path(__file__).with_name("published") / "mteval_turn_facts.csv"
CITATION = (
    "Kwan et al., MT-Eval: A Multi-Turn Capabilities Evaluation Benchmark for Large Language "
    "Models, EMNLP 2024 main, pp. 20153-20177 (aclanthology.org/2024.emnlp-main.1124), Tables 2-3"
)
DIFFICULTY_SD = 2.0
NOISE_SD = 1.0
#: Distance (tokens) at which the log distance feature is log 2; assumption.
DISTANCE_SCALE_TOKENS = 1000.0
#: |b| searched (points per unit of phi); beyond it the targets are not reachable.
SLOPE_BOUND = 40.0
#: The model the gold history of MT-Eval comes from (its human-checked answers).
GOLD_MODEL = "GPT-4"


@lru_cache(maxsize=1)
def published_scores() -> dict[str, dict[str, float]]:
    """``{model: {column: score 0-10}}`` of ``mteval_task_scores.csv`` (shipped)."""
    with open(SCORES_CSV, newline="") as fh:
        return {r["model"]: {k: float(v) for k, v in r.items() if k != "model"} for r in
                csv.DictReader(fh)}  # fmt: skip


@lru_cache(maxsize=1)
def turn_facts() -> dict[tuple[str, str], float]:
    """``{(fact, model): value}`` of ``mteval_turn_facts.csv`` (shipped)."""
    with open(FACTS_CSV, newline="") as fh:
        return {(r["fact"], r["model"]): float(r["value"]) for r in csv.DictReader(fh)}


def _need(model: str) -> dict[str, float]:
    table = published_scores()
    if model not in table:
        raise EdgeRouteError(f"model {model!r} not in the MT-Eval table; allowed: {list(table)}")
    return table[model]


def refinement_halves(model: str) -> tuple[float, float]:
    """Published Refinement mean of the first six and of the last six turns."""
    facts = turn_facts()
    key = ("refinement_first6", model), ("refinement_last6", model)
    if key[0] not in facts:
        have = sorted({m for f, m in facts if f == "refinement_first6"})
        raise EdgeRouteError(f"no published Refinement halves for {model!r}; have {have}")
    return facts[key[0]], facts[key[1]]


def kappa() -> float:
    """Error-propagation sensitivity: mean of (gold - own) / (GPT-4 - own) over the published
    Recollection gold-vs-own cases (see the module docstring)."""
    facts = turn_facts()
    gpt4 = facts[("recollection_multi", GOLD_MODEL)]
    models = sorted(m for f, m in facts if f == "recollection_gold_history")
    ratios = [
        (facts[("recollection_gold_history", m)] - facts[("recollection_own_history", m)])
        / (gpt4 - facts[("recollection_own_history", m)])
        for m in models
    ]
    return float(np.mean(ratios))


def author_shift_points(own_history_mean: float, history_mean: float) -> float:
    """Score change (1-10 points) of a turn whose history answers average ``history_mean``
    instead of the ``own_history_mean`` the model would have written itself."""
    return kappa() * (float(history_mean) - float(own_history_mean))


def distance_feature(tokens: object) -> np.ndarray:
    """``log(1 + x / DISTANCE_SCALE_TOKENS)`` of the distance ``x`` in tokens."""
    x = np.asarray(tokens, dtype=np.float64)
    if x.size and np.min(x) < 0:
        raise EdgeRouteError(f"distance tokens must be >= 0, got {tokens!r}")
    return np.log1p(x / DISTANCE_SCALE_TOKENS)


@dataclass(frozen=True)
class TurnFeatures:
    """What the quality model needs per row (arrays of one length)."""

    task: np.ndarray  # str, one of TASKS
    dialogue: np.ndarray  # int, dialogue index (0..n_dialogues-1)
    scored: np.ndarray  # bool, MT-Eval scores this turn
    tie: np.ndarray  # bool, both models are perfect (instruction acknowledgements)
    phi: np.ndarray  # float, distance feature
    late: np.ndarray  # bool, Refinement: one of the last six turns


def _score(task: str, loc: np.ndarray) -> np.ndarray:
    if task in JUDGE_TASKS:
        return np.round(np.clip(loc, 1.0, 10.0))
    return np.where(loc > 0.0, 10.0, 0.0)


def _solve_location(task, base, phi, b, target, lo=-200.0, hi=200.0) -> float:
    """c with mean(score(c - b phi + base)) closest to ``target`` (bisection; monotone)."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _score(task, mid - b * phi + base).mean() < target:
            lo = mid
        else:
            hi = mid
    a, z = (_score(task, c - b * phi + base).mean() for c in (lo, hi))
    return lo if abs(a - target) <= abs(z - target) else hi


def calibrate_task(
    task: str,
    base: np.ndarray,
    phi: np.ndarray,
    multi: float,
    secondary: tuple[str, float, np.ndarray | None],
) -> dict[str, float | str]:
    """``{c, b, kind, target, achieved}`` of one model and task on its scored rows.

    ``secondary`` is ``("drop", value, late_mask)`` (Refinement: first-six minus last-six mean),
    ``("single", value, None)`` (mean of the same draws at ``phi = 0``) or ``("slope", b,
    None)`` (b fixed, only the mean is fitted); ``achieved`` is the realised secondary value.
    """
    kind, value, late = secondary

    def secondary_of(c: float, b: float) -> float:
        s = _score(task, c - b * phi + base)
        if kind == "drop":
            return float(s[~late].mean() - s[late].mean())
        if kind == "single":  # the same draws with no history in between
            return float(_score(task, c + base).mean())
        return b

    if kind == "slope":
        c = _solve_location(task, base, phi, value, multi)
        return {"c": c, "b": value, "kind": kind, "target": value, "achieved": value}

    def gap(b: float) -> tuple[float, float]:
        c = _solve_location(task, base, phi, b, multi)
        return secondary_of(c, b) - value, c

    lo, hi = -SLOPE_BOUND, SLOPE_BOUND
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if gap(mid)[0] < 0:
            lo = mid
        else:
            hi = mid
    b = lo if abs(gap(lo)[0]) <= abs(gap(hi)[0]) else hi
    c = gap(b)[1]
    return {"c": c, "b": b, "kind": kind, "target": value, "achieved": secondary_of(c, b)}


def model_quality(
    features: TurnFeatures, small: str, large: str, seed: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Modelled 0-10 scores ``(small, large)`` per row and the fit ``{model: {task: {c, b,
    kind, target, achieved}}}`` (:func:`calibrate_task`).

    Draw order (fixed, so the trace is a function of ``seed``): ``z`` per dialogue, then one
    standard normal per row for the small model, then one for the large model.
    """
    f = features
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(int(f.dialogue.max()) + 1)[f.dialogue]
    noise = {m: rng.standard_normal(len(f.task)) for m in (small, large)}
    params: dict[str, dict[str, dict]] = {}
    out = []
    for m in (small, large):
        row = _need(m)
        s = np.full(len(f.task), 10.0)
        params[m] = {}
        for task in ("refinement", "expansion", "recollection", "follow_up"):
            mask = f.task == task
            if not mask.any():
                continue
            judge = task in JUDGE_TASKS
            base = (-DIFFICULTY_SD * z + NOISE_SD * noise[m]) if judge else (-z + noise[m])
            sc = mask & f.scored
            multi = row[f"{_COLUMN[task]}_multi"]
            if task == "refinement":
                first, last = refinement_halves(m)
                secondary = ("drop", first - last, f.late[sc])
            elif task == "follow_up":
                if "refinement" not in params[m]:
                    raise EdgeRouteError("follow-up borrows the Refinement slope: include both")
                secondary = ("slope", params[m]["refinement"]["b"], None)
            else:
                secondary = ("single", row[f"{_COLUMN[task]}_single"], None)
            fit = calibrate_task(task, base[sc], f.phi[sc], multi, secondary)
            params[m][task] = fit
            keep = mask & ~f.tie
            s[keep] = _score(task, fit["c"] - fit["b"] * f.phi[keep] + base[keep])
        out.append(s)
    return out[0], out[1], params


class HistoryAuthors:
    """Running sums of one dialogue for :func:`author_shift_points`, O(1) per turn.

    The environment calls :meth:`quality` for the pending turn (both sides) and :meth:`served`
    after each turn with the realised quality (errors propagate: a degraded answer in the
    history degrades what follows); :meth:`reset` at a new dialogue. Qualities are in [0, 1]
    (score / 10), so the shift is ``kappa x (mean quality of the answers in the history - mean
    quality the side's own answers would have had)``, and the adjusted quality is clipped to
    [0, 1]. With one side serving every turn the two means are equal and the shift is 0.
    """

    __slots__ = ("kappa", "_n", "_served", "_own")

    def __init__(self, kappa_value: float) -> None:
        self.kappa = float(kappa_value)
        self.reset()

    def reset(self) -> None:
        self._n = 0
        self._served = 0.0
        self._own = [0.0, 0.0]

    def quality(self, side: int, q_small: float, q_large: float) -> float:
        """Quality of the pending turn on ``side`` (0 small / device, 1 large / edge)."""
        q = q_large if side else q_small
        if self._n == 0 or self.kappa == 0.0:
            return q
        shift = self.kappa * (self._served - self._own[side]) / self._n
        q = q + shift
        return 0.0 if q < 0.0 else (1.0 if q > 1.0 else q)

    def served(self, realised_quality: float, q_small: float, q_large: float) -> None:
        """Record the turn just answered: the history now holds an answer of
        ``realised_quality`` (what :meth:`quality` gave the side that served), where each
        side's own answer would have had its trace quality ``q_small`` / ``q_large``."""
        self._n += 1
        self._served += realised_quality
        self._own[0] += q_small
        self._own[1] += q_large
