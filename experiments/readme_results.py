"""The README's result tables, rendered from committed result files (never typed by hand).

``edgeroute report results/ --readme README.md`` finds every ``results.json`` (written by
``edgeroute benchmark``) and ``ablation.json`` (``edgeroute ablate``) under ``results/``, renders
their tables with the same functions as ``results.md`` / ``ablation.md``
(:mod:`experiments.report`, :mod:`experiments.tables`), and replaces the README text between
:data:`BEGIN` and :data:`END` with them. Each block names its file, the command that made it,
the wall time and the machine, and says QUICK when the run was one. ``--check`` only compares
(``tests/test_readme_results.py`` runs it: the README and ``results/`` must never disagree).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cost_models.errors import EdgeRouteError
from envs.traces.atomic import atomic_write_text

BEGIN = (
    "<!-- results:begin (rendered by `edgeroute report results/ --readme README.md`; "
    "do not edit) -->"
)
END = "<!-- results:end -->"
#: The files a results directory may hold, and what wrote them.
RESULT_FILES = {"results.json": "edgeroute benchmark", "ablation.json": "edgeroute ablate"}


def find_result_files(results_dir: Path) -> list[Path]:
    """Every benchmark and ablation result file under ``results_dir``, in a stable order."""
    root = Path(results_dir)
    if not root.is_dir():
        raise EdgeRouteError(f"results directory {str(root)!r} does not exist")
    found = [p for name in RESULT_FILES for p in root.rglob(name)]
    if not found:
        raise EdgeRouteError(
            f"no results.json or ablation.json under {str(root)!r}; copy a run's files there "
            "(edgeroute benchmark --out DIR writes results.json)"
        )
    order = list(RESULT_FILES)  # benchmark results first, then ablations
    return sorted(found, key=lambda p: (order.index(p.name), p.parent.as_posix()))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EdgeRouteError(f"{path} is not a readable results file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("meta"), dict):
        raise EdgeRouteError(f"{path} is not a results file (a JSON object with 'meta')")
    return data


def _provenance(path: Path, shown: str, meta: Mapping[str, Any]) -> str:
    quick = " **QUICK run: small budgets, not the reported numbers.**" if meta.get("quick") else ""
    wall = f" in {meta['wall_s']:.0f} s" if isinstance(meta.get("wall_s"), (int, float)) else ""
    host = f" on {meta['host']}" if meta.get("host") else ""
    command = meta.get("command") or RESULT_FILES.get(path.name, "?")
    return f"From `{shown}`, made by `{command}`{wall}{host}.{quick}"


def ci_block(results: Mapping[str, Any]) -> list[str]:
    """The headline with paired bootstrap CIs and the paper's claim per reading (issue 14),
    when every section of ``results`` has them; else nothing (results of an older protocol)."""
    from experiments.report_ci import CI_NOTE, headline_ci_table, paper_table

    sections = [sec for key, sec in results.items() if key != "meta"]
    if not sections or not all("analytic_vs_static" in sec for sec in sections):
        return []
    return [
        "Headline, with 95% CIs:",
        "",
        headline_ci_table(results, markdown=True),
        "",
        CI_NOTE,
        "",
        "The paper's claim (5-15% lower latency, 10-20% fewer large-model calls than static "
        "routing at full quality), each reading of its words, analytic router on our data:",
        "",
        paper_table(results, markdown=True),
        "",
    ]


def _benchmark_block(results: Mapping[str, Any]) -> list[str]:
    from experiments.report import (
        HEADLINE_HEADERS,
        headline_rows,
        pgr_table,
        policy_table,
        quality_label,
        routellm_table,
    )
    from experiments.report_baselines import readings_lines
    from experiments.tables import markdown_table

    out = ci_block(results)
    out += readings_lines(results)
    out += [
        "Matched quality (target: always-edge quality; positive = lower latency / fewer edge "
        "calls):",
        "",
        markdown_table(HEADLINE_HEADERS, headline_rows(results)),
        "",
    ]

    for key, sec in results.items():
        if key == "meta":
            continue
        out += [
            f"**{key}** ({quality_label(sec)}; `{sec.get('env_id', '?')}`, test split, mean ± "
            f"std over seeds {sec.get('seeds', '?')}):",
            "",
            policy_table(sec, markdown=True),
            "",
            "At fractions of the always-device -> always-edge quality gap:",
            "",
            pgr_table(sec, markdown=True),
            "",
        ]
        if sec.get("routellm_metrics"):
            out += [
                "RouteLLM's metrics (APGR, CPT as `routellm/evals/evaluate.py` computes them; "
                "edge calls = strong-model calls):",
                "",
                routellm_table(sec, markdown=True),
                "",
            ]
    return out


def _ablation_block(results: Mapping[str, Any]) -> list[str]:
    from experiments.ablate import ABLATION_KEYS
    from experiments.report import quality_label
    from experiments.tables import headers_for, markdown_table, metric_rows

    out = []
    for key, sec in results.items():
        if key == "meta":
            continue
        out += [
            f"**{key}** ablation ({quality_label(sec)}; target quality "
            f"{sec['target_quality']:.3f}):",
            "",
            markdown_table(
                headers_for("variant", ABLATION_KEYS), metric_rows(sec["rows"], ABLATION_KEYS)
            ),
            "",
        ]
    return out


def render_results(results_dir: Path, shown_root: str | None = None) -> str:
    """The Markdown of every result file under ``results_dir`` (see the module docstring);
    ``shown_root`` is how the directory is named in the text (default: its given path)."""
    root = Path(results_dir)
    shown_root = (shown_root or root.as_posix()).rstrip("/")
    out: list[str] = []
    for path in find_result_files(root):
        results = _read(path)
        shown = f"{shown_root}/{path.relative_to(root).as_posix()}"
        try:
            body = (
                _ablation_block(results)
                if path.name == "ablation.json"
                else _benchmark_block(results)
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EdgeRouteError(
                f"{path}: unexpected content ({type(exc).__name__}: {exc})"
            ) from exc
        out += [f"#### {shown}", "", _provenance(path, shown, results["meta"]), "", *body]
    return "\n".join(out).rstrip() + "\n"


def readme_section(readme_text: str, readme: Path) -> tuple[int, int]:
    """Start and end offsets of the rendered block in the README (between the markers)."""
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        raise EdgeRouteError(
            f"{readme} has no rendered results block; add the two lines\n{BEGIN}\n{END}\n"
            "where the tables go"
        )
    return start + len(BEGIN), end


def update_readme(readme: Path, rendered: str, check: bool = False) -> bool:
    """Put ``rendered`` between the markers of ``readme`` (atomically); with ``check`` only
    compare. Returns whether the README already held exactly ``rendered``."""
    readme = Path(readme)
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeRouteError(f"cannot read the README {readme} ({exc})") from exc
    start, end = readme_section(text, readme)
    block = "\n" + rendered
    same = text[start:end] == block
    if not same and not check:
        atomic_write_text(readme, text[:start] + block + text[end:])
    return same
