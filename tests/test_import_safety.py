"""`edgeroute data import`: every bad file is a clean error naming the value and where (exit 2,
before the encoder loads), what users have is accepted (RouteLLM's True/False, JSON arrays,
long fields), missing answer lengths are filled and said, and the scorer's AUC is printed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cost_models.errors import EdgeRouteError
from envs.traces.user_file import MAX_FIELD_CHARS
from envs.traces.user_import import MAX_TOKENS, validate

HEADER = "id,text,quality_small,quality_large,output_tokens_small,output_tokens_large"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def jsonl_file(tmp_path: Path, *objs, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(o) for o in objs) + "\n")
    return path


def row(**kw) -> dict:
    base = {
        "id": "a",
        "text": "what is 2 + 2?",
        "quality_small": 1,
        "quality_large": 1,
        "output_tokens_small": 10,
        "output_tokens_large": 12,
    }
    return {**base, **kw}


def _non_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\na,ok,1,1,3,4\nb,caf\xe9,1,1,3,4\n".encode("latin-1"))
    return path


def _case(tmp_path: Path, case: str) -> tuple[Path, list[str], str]:
    """(file, extra CLI args, text the message must contain) of each bad case."""
    long = "x" * (MAX_FIELD_CHARS + 1)
    cases = {
        "non-UTF-8": lambda: (_non_utf8(tmp_path), [], "line 3 is not UTF-8 (byte 0xe9"),
        "CSV field over the limit": lambda: (
            csv_file(tmp_path, f"a,{long},1,1,3,4"),
            [],
            f"line 2 is not valid CSV (field larger than field limit ({MAX_FIELD_CHARS}))",
        ),
        "JSON field over the limit": lambda: (
            jsonl_file(tmp_path, row(text=long)),
            [],
            f"line 1: text has {MAX_FIELD_CHARS + 1:,} characters",
        ),
        "output_tokens 1e30": lambda: (
            csv_file(tmp_path, "a,hi,1,1,1e30,4"),
            [],
            f"line 2: output_tokens_small must be an integer in [0, {MAX_TOKENS:,}], got '1e30'",
        ),
        "output_tokens fraction": lambda: (
            csv_file(tmp_path, "a,hi,1,1,3.5,4"),
            [],
            "output_tokens_small must be an integer in [0, 10,000,000], got '3.5'",
        ),
        "null id": lambda: (jsonl_file(tmp_path, row(id=None)), [], "line 1: id is null"),
        "null text": lambda: (jsonl_file(tmp_path, row(text=None)), [], "line 1: text is null"),
        "text not a string": lambda: (
            jsonl_file(tmp_path, row(text=42)),
            [],
            "text must be a string, got int 42",
        ),
        "prompt_tokens 0": lambda: (
            jsonl_file(tmp_path, row(prompt_tokens=0)),
            [],
            "prompt_tokens must be an integer in [1, 10,000,000], got 0",
        ),
        "quality maybe": lambda: (
            csv_file(tmp_path, "a,hi,maybe,1,3,4"),
            [],
            "quality_small must be a number, got 'maybe'",
        ),
        "quality 1.5": lambda: (csv_file(tmp_path, "a,hi,1.5,1,3,4"), [], "must be in [0, 1]"),
        "negative history": lambda: (
            jsonl_file(tmp_path, row(history_tokens=-1)),
            [],
            "history_tokens must be an integer in [0, 10,000,000], got -1",
        ),
        "JSON array with a non-object": lambda: (
            _write(tmp_path / "a.json", json.dumps([row(), [1, 2]])),
            [],
            "item 2: expected a JSON object, got list",
        ),
        "output lengths missing everywhere": lambda: (
            jsonl_file(tmp_path, {k: v for k, v in row().items() if k != "output_tokens_large"}),
            [],
            "output_tokens_large is missing on every row",
        ),
        "header lacks a column": lambda: (
            csv_file(tmp_path, "a,hi,1,1,3", header=HEADER.rsplit(",", 1)[0]),
            [],
            "lacks required columns ['output_tokens_large']",
        ),
        "too many fields": lambda: (
            csv_file(tmp_path, "a,hi,1,1,3,4,9"),
            [],
            "line 2 has 7 fields",
        ),
        "unknown suffix": lambda: (_write(tmp_path / "t.xlsx", "x"), [], "must end in .csv"),
        "missing file": lambda: (tmp_path / "nope.csv", [], "does not exist"),
        "unknown --deployment": lambda: (
            csv_file(tmp_path, "a,hi,1,1,3,4"),
            ["--deployment", "phone_9b__cloud"],
            "unknown scenario 'phone_9b__cloud'; allowed: phone_3b__edge_70b",
        ),
        "--cache-dir is a file": lambda: (
            csv_file(tmp_path, "a,hi,1,1,3,4"),
            ["--cache-dir", str(_write(tmp_path / "cachefile", "x"))],
            "is a file",
        ),
    }
    return cases[case]()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_CASES = [
    "non-UTF-8",
    "CSV field over the limit",
    "JSON field over the limit",
    "output_tokens 1e30",
    "output_tokens fraction",
    "null id",
    "null text",
    "text not a string",
    "prompt_tokens 0",
    "quality maybe",
    "quality 1.5",
    "negative history",
    "JSON array with a non-object",
    "output lengths missing everywhere",
    "header lacks a column",
    "too many fields",
    "unknown suffix",
    "missing file",
    "unknown --deployment",
    "--cache-dir is a file",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_import_files_exit_2_naming_the_value(tmp_path, monkeypatch, case, run_cli):
    import cost_models.semantic.encoder as encoder_mod

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder was loaded before the file was validated")

    monkeypatch.setattr(encoder_mod.Encoder, "__init__", no_encoder)
    path, extra, named = _case(tmp_path, case)
    argv = ["data", "import", str(path), "--name", "mine", "--quiet"]
    if "--cache-dir" not in extra:
        extra = [*extra, "--cache-dir", str(tmp_path / "cache")]
    code, _, err = run_cli([*argv, *extra])
    assert code == 2, err
    assert named in err
    assert not (tmp_path / "cache" / "traces" / "mine").exists()


def _count(texts):
    return np.array([len(t.split()) for t in texts])


def test_routellm_true_false_json_array_and_long_fields_are_accepted(tmp_path):
    """RouteLLM's CSVs mark correctness True/False; a JSON array equals the same JSONL."""
    long = "word " * 60_000  # 300,000 characters: above csv's default limit, below ours
    path = csv_file(
        tmp_path,
        "q1,what is 2 + 2?,True,True,5,6",
        "q2,prove it,False,TRUE,50,60",
        f"q3,{long},false,true,7,8",
    )
    frame = validate(path, _count, "words")
    assert frame["quality_small"].tolist() == [1.0, 0.0, 0.0]
    assert frame["quality_large"].tolist() == [1.0, 1.0, 1.0]
    assert frame["prompt_tokens"].tolist() == [5, 2, 60_000]
    objs = [
        {"id": r.id, "text": r.text, "quality_small": bool(r.quality_small)}
        | {"quality_large": True, "output_tokens_small": 5, "output_tokens_large": 6}
        for r in frame.itertuples()
    ]
    arr = validate(_write(tmp_path / "a.json", json.dumps(objs)), _count, "words")
    lines = validate(jsonl_file(tmp_path, *objs, name="a.jsonl"), _count, "words")
    cols = ["id", "text", "quality_small", "prompt_tokens", "split"]
    assert arr[cols].equals(lines[cols]) and len(arr) == 3


def test_empty_output_cells_are_filled_with_the_column_mean_and_said(tmp_path):
    path = csv_file(tmp_path, "a,x y,1,1,10,", "b,x y z,0,1,,30", "c,x,0,1,20,50")
    frame = validate(path, _count, "words")
    assert frame["output_tokens_small"].tolist() == [10, 15, 20]
    assert frame["output_tokens_large"].tolist() == [40, 30, 50]
    assert frame.attrs["filled_output_tokens"] == {
        "output_tokens_small": 1,
        "output_tokens_large": 1,
    }
    assert "1 of output_tokens_small filled with the column mean" in frame["tokens_source"][0]


def test_byte_order_mark_and_integer_ids(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeff" + HEADER + "\n7,hi,1,0,3,4\n").encode("utf-8"))
    assert validate(path, _count, "words")["id"].tolist() == ["7"]
    assert validate(jsonl_file(tmp_path, row(id=7)), _count, "w")["id"].tolist() == ["7"]


def test_import_prints_auc_and_warns_when_no_better_than_length(tmp_path, run_cli):
    """Labels set by prompt length alone: length-only reaches AUC 1.0, which no scorer can
    exceed, so the warning must appear; the AUC line is printed either way."""
    rng = np.random.default_rng(0)
    words = ["river", "stone", "cloud", "market", "violin", "garden", "rocket", "paper"]
    objs = []
    for i in range(150):
        n = int(rng.integers(2, 40))
        objs.append(
            {
                "id": f"q{i}",
                "text": " ".join(rng.choice(words, size=5)),
                "prompt_tokens": n,
                "quality_small": 0 if n > 20 else 1,
                "quality_large": 1,
                "output_tokens_small": 20,
                "output_tokens_large": 20,
            }
        )
    path = _write(tmp_path / "len.json", json.dumps(objs))
    code, out, err = run_cli(
        ["data", "import", str(path), "--name", "bylength", "--cache-dir", str(tmp_path)]
        + ["--quiet"]
    )
    assert code == 0, err
    assert "imported 150 rows as 'bylength'" in out
    assert "semantic scorer on the" in out and "vs length-only 1.000" in out
    assert "warning: on 'bylength' the semantic scorer is no better than prompt length" in err


def test_validate_does_not_count_tokens_for_rows_that_give_them(tmp_path):
    calls = []

    def count(texts):
        calls.append(list(texts))
        return _count(texts)

    path = jsonl_file(tmp_path, row(prompt_tokens=3), row(id="b", text="two words"))
    frame = validate(path, count, "words")
    assert calls == [["two words"]] and frame["prompt_tokens"].tolist() == [3, 2]
    with pytest.raises(EdgeRouteError, match="repeats"):
        validate(jsonl_file(tmp_path, row(), row(), name="dup.jsonl"), count, "words")
