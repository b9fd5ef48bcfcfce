"""The README's result tables are exactly what ``edgeroute report results/`` renders from the
committed result files (the README-vs-results test), and the renderer follows the files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from experiments.readme_results import BEGIN, END, find_result_files, render_results

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
README = REPO / "README.md"


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)]


def test_readme_tables_equal_the_tables_rendered_from_results(run_cli):
    assert readme_block() == "\n" + render_results(RESULTS, "results")
    code, _, err = run_cli(["report", str(RESULTS), "--readme", str(README), "--check"])
    assert code == 0, err


def test_results_directory_holds_a_benchmark_run_and_the_readme_names_its_command():
    files = find_result_files(RESULTS)
    assert any(p.name == "results.json" for p in files)
    for path in files:
        meta = json.loads(path.read_text())["meta"]
        assert f"made by `{meta['command']}`" in readme_block()
        assert ("QUICK run" in readme_block()) == any(
            json.loads(p.read_text())["meta"]["quick"] for p in files
        )


def copy_results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    shutil.copytree(RESULTS, out, ignore=shutil.ignore_patterns("*.png", ".ray", "ppo"))
    return out


def test_rendered_tables_follow_the_numbers_in_the_files(tmp_path):
    out = copy_results(tmp_path)
    path = next(p for p in find_result_files(out) if p.name == "results.json")
    results = json.loads(path.read_text())
    key = next(k for k in results if k != "meta")
    results[key]["policies"]["always_edge"]["latency_mean_s"] = 98.765
    path.write_text(json.dumps(results))
    rendered = render_results(out, "results")
    assert "| always_edge | 98.765 ±" in rendered
    assert rendered != render_results(RESULTS, "results")


def test_report_check_fails_on_a_stale_readme_and_passes_after_the_update(tmp_path, run_cli):
    out = copy_results(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nintro\n{BEGIN}\n| stale | 1.000 |\n{END}\n\nafter\n")
    code, _, err = run_cli(["report", str(out), "--readme", str(readme), "--check"])
    assert code == 1 and "differs from the tables rendered" in err
    code, stdout, _ = run_cli(["report", str(out), "--readme", str(readme)])
    assert code == 0 and "updated" in stdout
    text = readme.read_text()
    assert text.startswith("# x\n\nintro\n") and text.endswith(f"{END}\n\nafter\n")
    assert "stale" not in text
    code, _, _ = run_cli(["report", str(out), "--readme", str(readme), "--check"])
    assert code == 0


@pytest.mark.parametrize("case", ["no markers", "no results", "bad json"])
def test_report_errors_are_clean(tmp_path, run_cli, case):
    out = tmp_path / "results"
    out.mkdir()
    readme = tmp_path / "README.md"
    readme.write_text(f"{BEGIN}\n{END}\n")
    if case == "no markers":
        shutil.copy(next(p for p in find_result_files(RESULTS)), out / "results.json")
        readme.write_text("no markers here\n")
        needle = "has no rendered results block"
    elif case == "no results":
        needle = "no results.json or ablation.json"
    else:
        (out / "results.json").write_text("{not json")
        needle = "is not a readable results file"
    code, _, err = run_cli(["report", str(out), "--readme", str(readme)])
    assert code == 2 and needle in err
