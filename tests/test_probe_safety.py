"""Cases found by the issue-13 re-probe: non-UTF-8 config files, writes onto devices and fifos,
--env-config keys a command sets itself, crossover's --out, signals and library threads dying
of a full disk. Each a clean error (exit 2 / 143, no traceback) naming the value."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cost_models.errors import EdgeRouteError
from envs.traces.atomic import atomic_write_text
from experiments.interrupt import Interrupted
from experiments.thread_errors import thread_os_errors_as_lines


@pytest.fixture
def binary_file(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"\xff\xfe\x00quick: 1\n")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["benchmark", "--quick", "--out", "{tmp}/o", "--config", "{bin}"],
        ["ablate", "--quick", "--out", "{tmp}/o", "--config", "{bin}"],
        ["train", "--env", "EdgeRoute/SingleTurn-v0", "--out", "{tmp}/t", "--config", "{bin}"],
        ["crossover", "--quick", "--out", "{tmp}/c", "--config", "{bin}"],
        ["data", "verify", "--manifest", "{bin}"],
    ],
)
def test_non_utf8_config_files_are_clean_errors(tmp_path, binary_file, run_cli, argv):
    argv = [a.format(tmp=tmp_path, bin=binary_file) for a in argv]
    code, _, err = run_cli(argv)
    assert code == 2 and str(binary_file) in err and "UTF-8" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs fifos")
def test_writes_never_replace_a_fifo_or_device(tmp_path, run_cli):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(EdgeRouteError, match="not a regular file"):
        atomic_write_text(fifo, "x")
    assert fifo.is_fifo()  # still the fifo, not a file renamed over it
    t0 = time.perf_counter()
    code, out, err = run_cli(["evaluate", "--benchmark", "synthetic", "--policy",
                              "always_edge", "--json", str(fifo)])  # fmt: skip
    assert code == 2 and "is not a regular file" in err and str(fifo) in err
    assert out == "" and time.perf_counter() - t0 < 10  # refused before the evaluation
    with pytest.raises(EdgeRouteError, match="is a directory"):
        atomic_write_text(tmp_path, "x")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["evaluate", "--env-config", "split=train"], "split='train'"),
        (["evaluate", "--env-config", "benchmark=gsm8k"], "benchmark='gsm8k'"),
        (["benchmark", "--quick", "--out", "{tmp}/o", "--env-config", "benchmark=gsm8k"],
         "use --benchmarks NAME"),
        (["ablate", "--quick", "--out", "{tmp}/o", "--env-config", "split=test"],
         "split='test'"),
        (["crossover", "--quick", "--out", "{tmp}/o", "--env-config", "benchmark=mmlu"],
         "benchmark='mmlu'"),
        (["train", "--env", "EdgeRoute/SingleTurn-v0", "--out", "{tmp}/t", "--benchmark",
          "mmlu", "--env-config", "benchmark=gsm8k"], "use --benchmark alone"),
        (["train", "--env", "EdgeRoute/SingleTurn-v0", "--out", "{tmp}/t", "--env-config",
          "split=validation"], "split='validation'"),
    ],
)  # fmt: skip
def test_env_config_keys_the_command_sets_are_refused(tmp_path, run_cli, argv, named):
    code, _, err = run_cli([a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and named in err and "this command sets" in err


def test_crossover_checks_out_before_its_work(tmp_path, run_cli):
    (tmp_path / "f").write_text("x")
    t0 = time.perf_counter()
    code, _, err = run_cli(["crossover", "--quick", "--out", str(tmp_path / "f")])
    assert code == 2 and "is a file" in err and time.perf_counter() - t0 < 10
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "crossover.json").write_text("{}")
    code, _, err = run_cli(["crossover", "--quick", "--out", str(tmp_path / "used")])
    assert code == 2 and "already holds crossover.json" in err and "--overwrite" in err
    assert (tmp_path / "used" / "crossover.json").read_text() == "{}"


@pytest.mark.parametrize(("signum", "code"), [(15, 143), (2, 130)])
def test_signals_stop_run_commands_with_status_and_the_resume_hint(
    tmp_path, run_cli, monkeypatch, signum, code
):
    import experiments.benchmark

    def stopped(*_a, **_k):
        raise Interrupted(signum)

    monkeypatch.setattr(experiments.benchmark, "run_benchmark", stopped)
    got, _, err = run_cli(["benchmark", "--quick", "--out", str(tmp_path / "o"),
                           "--benchmarks", "synthetic"])  # fmt: skip
    assert got == code
    assert "interrupted (SIG" in err and "run the same command with --resume" in err


def test_a_thread_dying_of_a_full_disk_prints_one_line(capsys):
    def writer() -> None:
        raise OSError(28, "No space left on device", "/full/events.out")

    before = threading.excepthook
    with thread_os_errors_as_lines("edgeroute train"):
        t = threading.Thread(target=writer, name="tb-writer")
        t.start()
        t.join()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "edgeroute train: warning: tb-writer could not write /full/events.out: No space " \
        "left on device" in err
    assert threading.excepthook is before  # restored after the block
