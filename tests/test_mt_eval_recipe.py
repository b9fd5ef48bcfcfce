"""MT-Eval's dialogues assembled by our port of ``create_data.py`` equal the original's output.

The digests below were computed from the dialogues that MT-Eval's own ``create_data.py`` (at
bfe3a46, run on the mirrored ``raw_data/``) writes to ``data/*_multi*.jsonl``: sha256 over the
JSON of ``[user, sys, do_inference]`` of every turn in file order. The same run reproduces the
mirrored ``data/cls_ablation_gold.jsonl`` byte for byte, which is how we know the run is the
benchmark's.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from cost_models.errors import EdgeRouteError
from envs.traces import mt_eval_recipe as recipe
from envs.traces.mt_eval_instructions import INSTRUCTION_IDS, instruction_prompt

RAW = Path(os.environ["EDGEROUTE_RAW_DIR"])  # conftest.py sets the default mirror
DIGESTS = {
    "refinement": "48907afd2ea006aa2692581b32e81762706b73dc50f0b34e6a90f5a4518074ea",
    "expansion": "16a58632a7f151f7de404ea52bf5eec799ec0aa5bd5f836a51607ddd9e6d351f",
    "follow_up": "09c41d1543e32b4399dcb8fa805ed998e015f6a4bb445ae0a3e72d024100ddc5",
    "recollection": "80e9f6c500e3fddd5c9e1e3c0aba3047f8feb97a679742624c0ef35796780bb1",
}
pytestmark = pytest.mark.skipif(
    not (RAW / recipe.FILES["documents"]).is_file(), reason="raw mirror not available"
)


@pytest.fixture(scope="module")
def dialogues():
    return recipe.assemble({k: RAW / v for k, v in recipe.FILES.items()})


def test_assembled_dialogues_equal_the_benchmark_scripts_output(dialogues):
    for task, digest in DIGESTS.items():
        h = hashlib.sha256()
        for d in (d for d in dialogues if d.task == task):
            for t in d.turns:
                h.update(json.dumps([t.user, t.sys, t.scored], ensure_ascii=False).encode())
        assert h.hexdigest() == digest, task


def test_shapes_and_scored_turns(dialogues):
    for task, (n, turns) in recipe.SHAPES.items():
        got = [d for d in dialogues if d.task == task]
        assert len(got) == n and {len(d.turns) for d in got} == {turns}
    scored = sum(t.scored for d in dialogues for t in d.turns)
    assert scored == 1170  # MT-Eval README: 1,170 scored turns
    # anchors point back to turn 0 (document / instruction / first question) or are absent
    assert {t.anchor for d in dialogues for t in d.turns} == {None, 0}


def test_instruction_prompts_are_seeded_and_unknown_ids_fail():
    a, b = random.Random(11), random.Random(11)
    first = [instruction_prompt(i, a) for i in INSTRUCTION_IDS]
    assert first == [instruction_prompt(i, b) for i in INSTRUCTION_IDS]
    assert "Include keywords [" in first[INSTRUCTION_IDS.index("keywords:existence")]
    with pytest.raises(EdgeRouteError, match="not in"):
        instruction_prompt("length_constraints:number_words", a)
