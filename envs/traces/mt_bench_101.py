"""MT-Bench-101 (1,388 dialogues, 4,208 user turns, 13 tasks) with MODELLED quality.

Text: ``mtbench101.jsonl`` ``{task, id, history: [{user, bot}]}``; turn t's text is the t-th
user message, its history the earlier user messages and golden ``bot`` answers (the benchmark
feeds the golden answers as context), and both models' output length is the golden answer of
that turn, counted with the tokenizer (no per-model answers are public).

Quality is MODELLED: no public source gives per-turn MT-Bench-101 outcomes, only per-task
GPT-4-judged means per model (Bai et al., ACL 2024, leaderboard; shipped as
``envs/traces/published/mtbench101_task_scores.csv``, validated on read). For a same-family
pair (default Qwen-7B-Chat -> Qwen-14B-Chat) we draw, from a seeded generator:

    z_d ~ N(0, 1)                   latent difficulty of dialogue d, shared by both models
    e_{m,d,t} ~ N(0, 1)             per-model, per-turn judge noise
    s_{m,d,t} = round(clip(c_{m,k} - DIFFICULTY_SD z_d + NOISE_SD e_{m,d,t}, 1, 10))

with k the dialogue's task, and the location c_{m,k} solved by bisection so that the mean of
s over the task's turns equals the published per-task mean of model m (to < 0.01; tests hold
< 0.1). The shared z_d makes routing structured (hard dialogues are hard for both; clipping at
10 makes easy turns ties, where the small model suffices); quality = s / 10. Every output
built on it says "modelled". DIFFICULTY_SD and NOISE_SD are our assumptions (judge scores on
1-10 spread by a few points between dialogues of one task), not published figures.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cost_models.errors import EdgeRouteError
from envs.traces.common import DEFAULT_SEED, PairPreset, assemble, pair_meta, split_of

_DATA = "mtbench101__mt-bench-101/data/subjective/mtbench101.jsonl"
#: Environment variable overriding the published per-task means shipped in the package.
PUBLISHED_ENV = "EDGEROUTE_MTBENCH101_SCORES"
#: The published table shipped with the package (citation in ``published/README.md``).
SHIPPED_SCORES = Path(__file__).with_name("published") / "mtbench101_task_scores.csv"
TASKS = ("CM", "SI", "AR", "TS", "CC", "CR", "FR", "SC", "SA", "MR", "GR", "IC", "PI")
#: The GPT-4 judge's scale of the leaderboard scores (1-10; Bai et al. 2024).
SCORE_RANGE = (1.0, 10.0)
#: |avg - mean of the 13 tasks| allowed: both are rounded to 0.01, so they differ by < 0.01.
AVG_TOLERANCE = 0.01 + 1e-9
DIFFICULTY_SD = 2.0
NOISE_SD = 1.0
N_DIALOGUES = 1388
N_TURNS = 4208

DEPLOYMENT = "jetson_7b__edge_14b"
_NOTE = "MODELLED quality: per-task means of Bai et al. 2024 with a latent dialogue difficulty"
PAIRS: dict[str, PairPreset] = {
    "qwen_7b__qwen_14b": PairPreset(
        "qwen_7b__qwen_14b", "Qwen-7B-Chat", "Qwen-14B-Chat", "modelled", DEPLOYMENT, _NOTE
    ),
    "llama2_7b__llama2_13b": PairPreset(
        "llama2_7b__llama2_13b",
        "Llama2-7B-Chat",
        "Llama2-13B-Chat",
        "modelled",
        DEPLOYMENT,
        _NOTE,
    ),
    "mistral_7b__mixtral": PairPreset(
        "mistral_7b__mixtral",
        "Mistral-7B-Instruct-v0.2",
        "Mixtral-8x7B-Instruct-v0.1",
        "modelled",
        DEPLOYMENT,
        _NOTE,
    ),
}
DEFAULT_PAIR = "qwen_7b__qwen_14b"


def files(manifest: dict) -> list[str]:
    return [_DATA]


def published_scores_path() -> Path:
    """Where the published per-task MT-Bench-101 scores are read from.

    ``$EDGEROUTE_MTBENCH101_SCORES`` if set (an override), else the copy shipped in the
    package, ``envs/traces/published/mtbench101_task_scores.csv``: a transcription of the
    MT-Bench-101 leaderboard (Bai et al., ACL 2024, pp. 7421-7454,
    https://aclanthology.org/2024.acl-long.401/; table image ``assets/leaderboard.png`` of the
    mt-bench-101 repository), byte-identical to ``published/`` of the shared data folder. It is
    a table of published numbers with no public raw file to download, so it is shipped, with its
    citation in ``published/README.md``, and a fresh install needs no file beside the mirror.
    """
    override = os.environ.get(PUBLISHED_ENV)
    path = Path(override).expanduser() if override else SHIPPED_SCORES
    if not path.is_file():
        raise EdgeRouteError(
            f"published MT-Bench-101 task scores {str(path)!r} not found"
            + (f" ({PUBLISHED_ENV} is set)" if override else "")
            + f"; point {PUBLISHED_ENV} at a CSV with columns model,avg,{','.join(TASKS)} or "
            "unset it to use the table shipped with edgeroute"
        )
    return path


def published_scores(path: Path | None = None) -> dict[str, dict[str, float]]:
    """``{model: {task: mean score 1-10}}`` from the leaderboard table, validated.

    Every cell must be a finite number in [1, 10] (the judge's scale), every task column and
    ``avg`` must be present, models must not repeat, and each row's ``avg`` must equal the mean
    of its 13 tasks within :data:`AVG_TOLERANCE` (both are rounded to 0.01 in the paper), which
    catches a mistyped or shifted cell. Anything else raises :class:`EdgeRouteError` naming the
    file, the model and the column: a bad cell would otherwise silently become a task's
    modelled quality.
    """
    path = Path(path or published_scores_path())
    delimiter = "\t" if path.suffix == ".tsv" else ","
    where = f"published MT-Bench-101 table {path}"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EdgeRouteError(f"{where}: cannot be read ({exc})") from exc
    missing = [c for c in ("model", "avg", *TASKS) if c not in header]
    if missing:
        raise EdgeRouteError(
            f"{where}: missing column(s) {missing}; expected model,avg,{','.join(TASKS)}"
        )
    if not rows:
        raise EdgeRouteError(f"{where}: has no rows")
    out: dict[str, dict[str, float]] = {}
    for line, row in enumerate(rows, start=2):
        model = (row.get("model") or "").strip()
        if not model:
            raise EdgeRouteError(f"{where}, line {line}: empty model name")
        if model in out:
            raise EdgeRouteError(f"{where}, line {line}: model {model!r} repeats")
        values = {}
        for col in ("avg", *TASKS):
            raw = row.get(col)
            try:
                x = float(raw)
            except (TypeError, ValueError):
                x = float("nan")
            if not (math.isfinite(x) and SCORE_RANGE[0] <= x <= SCORE_RANGE[1]):
                raise EdgeRouteError(
                    f"{where}, line {line}: {model} {col} = {raw!r} is not a score in "
                    f"[{SCORE_RANGE[0]:g}, {SCORE_RANGE[1]:g}]"
                )
            values[col] = x
        mean = sum(values[t] for t in TASKS) / len(TASKS)
        if abs(values["avg"] - mean) > AVG_TOLERANCE:
            raise EdgeRouteError(
                f"{where}, line {line}: {model} avg = {row['avg']!r} but its 13 tasks average "
                f"{mean:.4f} (allowed difference {AVG_TOLERANCE}); a cell is mistyped"
            )
        out[model] = {t: values[t] for t in TASKS}
    return out


def _calibrated_scores(
    target: float, base: np.ndarray, lo: float = -15.0, hi: float = 25.0
) -> np.ndarray:
    """Integer scores round(clip(c + base, 1, 10)) with c bisected so the mean hits target."""

    def scores(c: float) -> np.ndarray:
        return np.round(np.clip(c + base, 1.0, 10.0))

    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if scores(mid).mean() < target:
            lo = mid
        else:
            hi = mid
    a, b = scores(lo), scores(hi)
    return a if abs(a.mean() - target) <= abs(b.mean() - target) else b


def model_quality(
    tasks: np.ndarray,
    dialogue_index: np.ndarray,
    n_dialogues: int,
    small_means: dict,
    large_means: dict,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Modelled per-turn 1-10 scores (small, large); see the module docstring."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n_dialogues)[dialogue_index]
    out = []
    for means in (small_means, large_means):
        noise = rng.standard_normal(len(tasks))
        s = np.zeros(len(tasks))
        for task in TASKS:
            m = tasks == task
            if m.any():
                base = -DIFFICULTY_SD * z[m] + NOISE_SD * noise[m]
                s[m] = _calibrated_scores(means[task], base)
        out.append(s)
    return out[0], out[1]


def build(
    get: Callable[[str], Path], manifest: dict, count, tokens_source: str, seed: int = DEFAULT_SEED
) -> dict[str, tuple[pd.DataFrame, dict]]:
    dialogues = [json.loads(x) for x in Path(get(_DATA)).read_text().splitlines() if x.strip()]
    table = published_scores()
    rows = []
    for di, d in enumerate(dialogues):
        if d["task"] not in TASKS:
            raise EdgeRouteError(f"MT-Bench-101 task {d['task']!r} not in {TASKS}")
        for t, turn in enumerate(d["history"]):
            rows.append(
                (di, f"mt_bench_101/{d['task']}-{d['id']}", d["task"], t, turn["user"], turn["bot"])
            )
    n = len(rows)
    users = count([r[4] for r in rows])
    bots = count([r[5] for r in rows])
    history = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(rows):
        if r[3] > 0:
            history[i] = history[i - 1] + users[i - 1] + bots[i - 1]
    tasks = np.array([r[2] for r in rows])
    dialogue_index = np.array([r[0] for r in rows])
    dialogue_ids = [r[1] for r in rows]
    out = {}
    for k, (name, pair) in enumerate(PAIRS.items()):
        for model in (pair.small, pair.large):
            if model not in table:
                raise EdgeRouteError(f"model {model!r} not in the published MT-Bench-101 table")
        s_small, s_large = model_quality(
            tasks,
            dialogue_index,
            len(dialogues),
            table[pair.small],
            table[pair.large],
            seed + k,
        )
        frame = assemble(
            {
                "id": [f"{d}/t{r[3]}" for d, r in zip(dialogue_ids, rows, strict=True)],
                "benchmark": "mt_bench_101",
                "subject": tasks,
                "split": [split_of(d, seed) for d in dialogue_ids],
                "dialogue_id": dialogue_ids,
                "turn_index": [r[3] for r in rows],
                "text": [r[4] for r in rows],
                "prompt_tokens": users,
                "history_tokens": history,
                "output_tokens_small": bots,
                "output_tokens_large": bots,
                "quality_small": s_small / 10,
                "quality_large": s_large / 10,
                "quality_source": "modelled",
                "tokens_source": (
                    f"{tokens_source}; output of both models: the golden answer of the turn"
                ),
            },
            n,
        )
        meta = pair_meta(
            "mt_bench_101", pair, DEFAULT_PAIR, True, "golden answers (same for both models)",
            quality_note=(
                f"{_NOTE}; difficulty sd {DIFFICULTY_SD}, judge noise sd {NOISE_SD}, seed "
                f"{seed + k}; quality = modelled score / 10"
            ),
            published_task_means={"small": table[pair.small], "large": table[pair.large]},
        )  # fmt: skip
        out[name] = (frame, meta)
    return out
