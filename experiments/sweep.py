"""``edgeroute sweep``: a grid of trials on Ray Tune, aggregated into sweep.json and sweep.md.

How a sweep flows:

1. :func:`experiments.sweep_config.load_sweep_config` validates the whole file (nothing has
   started yet: a bad key or value is an ``EdgeRouteError``, exit 2);
2. Ray must be installed (:func:`experiments.ray_backend.require_ray`);
3. every (workload, env variant) environment is built once, so a bad env override fails before
   any trial runs, and what the report says about the workload (measured or modelled quality,
   deployment) is read from it;
4. the output directory is claimed: an existing sweep is never overwritten unless ``--resume``
   continues it, and only with the same config (``DIR/sweep_config.json``);
5. the trials run on Ray Tune (:mod:`experiments.sweep_tune`; Ray starts locally unless an
   address is given);
6. :func:`aggregate` reads every complete trial back (:mod:`experiments.sweep_trial`) and
   pools the runs of each cell with the benchmark's own :func:`experiments.runs.policy_runs`
   (PPO: over training and evaluation seeds); ``sweep.json`` and ``sweep.md`` are written
   atomically, also after an interrupted or partly failed sweep (with what is missing).

Output layout: ``DIR/sweep.json``, ``DIR/sweep.md``, ``DIR/sweep_config.json``,
``DIR/trials/<key>/`` (each trial's files, Tune's experiment state beside them) and
``DIR/.ray/`` (session files of a locally started Ray).
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cost_models.errors import require
from experiments.envfactory import EnvDescription, describe_env
from experiments.files import write_json, write_text
from experiments.ray_backend import RaySettings, ray_session, require_ray
from experiments.runs import policy_runs
from experiments.sweep_config import SweepConfig, Trial, load_sweep_config
from experiments.sweep_trial import read_trial, trial_results

SWEEP_CONFIG_FILE = "sweep_config.json"
RESULTS_FILE = "sweep.json"
REPORT_FILE = "sweep.md"
TRIALS_DIR = "trials"


@dataclass(frozen=True)
class SweepPlan:
    """The trials of a sweep and where their files go (shipped to every Tune trial)."""

    config: SweepConfig
    out_dir: Path
    trials: tuple[Trial, ...] = field(default=())

    @classmethod
    def of(cls, config: SweepConfig, out_dir: Path) -> SweepPlan:
        return cls(config, Path(out_dir).resolve(), tuple(config.trials()))

    @property
    def tune_dir(self) -> Path:
        return self.out_dir / TRIALS_DIR

    def trial_dir(self, key: str) -> Path:
        return self.tune_dir / key

    def trial(self, key: str) -> Trial:
        return next(t for t in self.trials if t.key == key)


def run_sweep(
    config_path: Path,
    out_dir: Path,
    settings: RaySettings,
    resume: bool = False,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, Any]:
    """Run the sweep of ``config_path`` into ``out_dir`` (see the module docstring)."""
    t0 = time.perf_counter()
    config = load_sweep_config(config_path)
    require_ray()
    plan = SweepPlan.of(config, out_dir)
    envs = describe_workloads(plan)
    claim_out_dir(plan, resume)
    attempt = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    log(
        f"[sweep] {len(plan.trials)} trials ({sum(t.policy.policy == 'ppo' for t in plan.trials)}"
        f" train PPO) x {len(config.evaluation_seeds)} evaluation seeds; attempt {attempt}"
    )
    with ray_session(settings, plan.out_dir, log) as info:
        from experiments import sweep_tune

        errors = sweep_tune.fit(plan, settings, resume, attempt, log)
    meta = {
        "command": command or f"edgeroute sweep {config_path}",
        "config_file": str(config_path),
        "config": config.to_dict(),
        "attempt": attempt,
        "host": f"{platform.node() or 'host'} ({platform.machine()}, {os.cpu_count()} CPUs)",
        "ray": info.to_dict(),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    results = aggregate(plan, envs, errors, meta)
    write_json(plan.out_dir / RESULTS_FILE, results)
    write_text(plan.out_dir / REPORT_FILE, sweep_markdown(results))
    counts = results["meta"]["trials"]
    log(
        f"[sweep] wrote {plan.out_dir / RESULTS_FILE} and {REPORT_FILE}: {counts['complete']}/"
        f"{counts['total']} trials complete ({counts['ran']} ran now, {counts['reused']} "
        f"earlier), {counts['errored']} failed, {counts['unfinished']} unfinished "
        f"in {meta['wall_s']:.0f} s"
    )
    if counts["errored"] or counts["unfinished"]:
        log(f"[sweep] to finish it: edgeroute sweep {config_path} --out {out_dir} --resume")
    return results


def describe_workloads(plan: SweepPlan) -> dict[str, EnvDescription]:
    """Build each (workload, env variant) test environment once: bad overrides fail here."""
    out: dict[str, EnvDescription] = {}
    for t in plan.trials:
        name = workload_name(t)
        if name not in out:
            cfg = {**t.workload.env_config, "split": "test"}
            out[name] = describe_env(t.workload.env_id, cfg, t.workload.key)
    return out


def workload_name(trial: Trial) -> str:
    return f"{trial.workload.key}__{trial.env_variant}"


def claim_out_dir(plan: SweepPlan, resume: bool) -> None:
    """Refuse to overwrite a sweep; on ``resume``, require the same config."""
    out = plan.out_dir
    saved = out / SWEEP_CONFIG_FILE
    existing = [p.name for p in (saved, out / RESULTS_FILE, plan.tune_dir) if p.exists()]
    config = json.loads(json.dumps(plan.config.to_dict()))
    if not resume:
        require(
            not existing,
            f"--out {out} already holds a sweep ({', '.join(existing)}); pass --resume to "
            "finish it, or choose another --out (nothing is overwritten)",
        )
        out.mkdir(parents=True, exist_ok=True)
        write_json(saved, config)
        return
    require(saved.is_file(), f"--resume: {out} holds no sweep ({SWEEP_CONFIG_FILE} missing)")
    before = json.loads(saved.read_text())
    changed = sorted(k for k in set(before) | set(config) if before.get(k) != config.get(k))
    require(
        not changed,
        f"--resume: the sweep config differs from the one {out} was started with (keys "
        f"{changed}); resume with the same file, or start a new sweep in another --out",
    )


def aggregate(
    plan: SweepPlan,
    envs: Mapping[str, EnvDescription],
    errors: Mapping[str, str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """``sweep.json``: every trial's status and metrics, and per cell the runs of its trials
    pooled by :func:`experiments.runs.policy_runs` (mean and ``_std`` over seeds)."""
    trials: dict[str, Any] = {}
    cells: dict[tuple, dict[str, Any]] = {}
    pooled: dict[tuple, list] = {}
    attempt = meta["attempt"]
    for t in plan.trials:
        record = read_trial(plan.trial_dir(t.key))
        if record is None:
            status = "errored" if t.key in errors else "unfinished"
            trials[t.key] = {"status": status, "error": errors.get(t.key)}
            continue
        trials[t.key] = {
            "status": "complete",
            "ran_in_attempt": record["attempt"],
            **{k: record[k] for k in ("metrics", "runs", "wall_s", "policy_kwargs")},
            **{k: record[k] for k in ("tuning", "training") if k in record},
        }
        cell = cells.setdefault(t.cell, _cell(t, plan.config, envs))
        cell["trials"].append(t.key)
        if t.train_seed is not None:
            cell["training_seeds"].append(t.train_seed)
        pooled.setdefault(t.cell, []).extend(
            trial_results(record, plan.config, plan.trial_dir(t.key))
        )
    for key, results in pooled.items():
        cells[key]["metrics"] = policy_runs(results).metrics
    statuses = [v["status"] for v in trials.values()]
    ran = sum(v.get("ran_in_attempt") == attempt for v in trials.values())
    meta["trials"] = {
        "total": len(statuses),
        "complete": statuses.count("complete"),
        "ran": ran,
        "reused": statuses.count("complete") - ran,
        "errored": statuses.count("errored"),
        "unfinished": statuses.count("unfinished"),
    }
    workloads = {
        name: {
            "quality_source": d.quality_source,
            "scenario": d.scenario,
            "reward_weights": d.reward_weights,
        }
        for name, d in envs.items()
    }
    return {"meta": meta, "workloads": workloads, "cells": list(cells.values()), "trials": trials}


def _cell(t: Trial, config: SweepConfig, envs: Mapping[str, EnvDescription]) -> dict[str, Any]:
    return {
        "workload": t.workload.key,
        "env_id": t.workload.env_id,
        "env_variant": t.env_variant,
        "env_config": {k: v for k, v in t.workload.env_config.items() if k != "trace"},
        "quality_source": envs[workload_name(t)].quality_source,
        "label": t.policy.label,
        "policy": t.policy.policy,
        "tuned": t.policy.tune,
        "ppo_variant": t.ppo_variant,
        "ppo_overrides": dict(t.ppo_overrides),
        "training_seeds": [],
        "evaluation_seeds": list(config.evaluation_seeds),
        "trials": [],
    }


def sweep_markdown(results: Mapping[str, Any]) -> str:
    """``sweep.md``: one table per (workload, env variant), one row per cell."""
    from experiments.report import RECONSTRUCTION_NOTE, policy_keys_for
    from experiments.tables import headers_for, markdown_table, metric_rows

    meta = results["meta"]
    counts = meta["trials"]
    md = [
        "# edgeroute sweep",
        "",
        f"Command: `{meta['command']}`; {counts['complete']}/{counts['total']} trials complete "
        f"({counts['errored']} failed, {counts['unfinished']} unfinished); wall time "
        f"{meta['wall_s']:.0f} s of this invocation.",
        "",
        RECONSTRUCTION_NOTE,
        "",
        "Test split, mean ± std over the runs of each row: its evaluation seeds (and, for PPO, "
        "its training seeds), common random numbers across rows. Latencies come from the "
        "modelled cost equations, not measurements.",
        "",
    ]
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in results["cells"]:
        groups.setdefault((cell["workload"], cell["env_variant"]), {})[_row_name(cell)] = cell
    for (workload, variant), rows in groups.items():
        first = next(iter(rows.values()))
        quality = "modelled quality" if first["quality_source"] == "modelled" else "measured"
        keys = (*policy_keys_for({"env_id": first["env_id"]}), "n_seeds")
        md += [f"## {workload}, env {variant} ({quality})", ""]
        table = metric_rows({n: c["metrics"] for n, c in rows.items()}, keys)
        md += [markdown_table(headers_for("policy", keys), table), ""]
    missing = {k: v for k, v in results["trials"].items() if v["status"] != "complete"}
    if missing:
        md += ["## Trials not complete", ""]
        md += [
            f"- `{k}`: {v['status']}" + (f" ({v['error']})" if v.get("error") else "")
            for k, v in missing.items()
        ]
        md.append("")
    return "\n".join(md)


def _row_name(cell: Mapping[str, Any]) -> str:
    variant = cell.get("ppo_variant")
    return cell["label"] if variant in (None, "default") else f"{cell['label']} [{variant}]"
