"""MT-Eval's four main multi-turn tasks, assembled from its raw files as ``create_data.py`` does.

MT-Eval (Kwan et al., EMNLP 2024, arXiv:2401.16745; KwanWaiChung/MT-Eval at bfe3a46, MIT)
ships the sources of its dialogues in ``raw_data/`` and builds the dialogues with
``create_data.py`` (seed 111 for every shuffle; documents trimmed of their ``Topic:`` line).
This module is a line-by-line port of the four multi-turn builders:

* Refinement (``create_refinement_multi``): per document, the tasks sum / qa / ner / rewrite
  (6 turns each) are shuffled and chained in pairs by rotation: 10 documents x 4 = 40
  dialogues x 12 turns; the second task's first turn drops its ``Content:`` part.
* Expansion (``create_expansion``): per document, the first turn of each task except rewrite
  (``short-qa`` stands for qa) plus a classification turn, shuffled: 10 dialogues x 7 turns.
* Follow-up (``create_follow_up_multi``): MT-Bench extended to 5 turns; the first two are not
  scored: 80 dialogues x 5 turns.
* Recollection: document classification (``create_recollection_cls``: 10 sessions of an
  instruction turn and 10 documents, last 3 paragraphs cut) and global instruction following
  (``create_recollection_global_inst``: 14 instructions x 2 sessions of an instruction turn and
  10 queries; prompts from :mod:`envs.traces.mt_eval_instructions`): 38 dialogues x 11 turns.

Each turn carries ``user`` (the real user text), ``sys`` (the human-checked GPT-4 answer the
benchmark uses as gold history; empty for global-instruction queries, whose answers MT-Eval does
not publish), ``scored`` (``do_inference``) and ``anchor`` (the turn holding the content this
turn relies on: the document or instruction in turn 0, or nothing), which the quality model
uses for the distance to the recalled content.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from cost_models.errors import EdgeRouteError
from envs.traces.mt_eval_instructions import INSTRUCTION_IDS, INSTRUCTION_SEED, instruction_prompt

ROOT = "KwanWaiChung__MT-Eval"
FILES: dict[str, str] = {
    "documents": f"{ROOT}/raw_data/documents.jsonl",
    "global_inst": f"{ROOT}/raw_data/global_inst.jsonl",
    "follow_up": f"{ROOT}/raw_data/mt-bench_extended.jsonl",
    "refinement": f"{ROOT}/raw_data/refinement_multi_inst.jsonl",
}
LICENSE_FILE = f"{ROOT}/LICENSE"
#: Seed of every ``random.Random`` in ``create_data.py``.
RECIPE_SEED = 111
#: ``utils/constants.py`` ``topics``: the 13 document classes, in order.
TOPICS: tuple[str, ...] = (
    "ethics", "sports", "music", "art", "science", "literature", "economics", "medicine",
    "food", "technology", "history", "travel", "education",
)  # fmt: skip
#: (dialogues, turns per dialogue) of each task, asserted after assembly (MT-Eval README).
SHAPES: dict[str, tuple[int, int]] = {
    "refinement": (40, 12),
    "expansion": (10, 7),
    "follow_up": (80, 5),
    "recollection": (38, 11),
}


@dataclass
class Turn:
    user: str
    sys: str
    scored: bool
    anchor: int | None  # index of the turn with the content relied on (None: no history)


@dataclass
class Dialogue:
    task: str  # refinement, expansion, follow_up, recollection
    subtask: str  # e.g. "sum+qa", "cls", "global:format:json_format", MT-Bench category
    dialogue_id: str
    turns: list[Turn] = field(default_factory=list)


def read_jsonl(path: Path) -> list:
    """JSON lines of ``path``; 9 of MT-Eval's 10 files have no final newline, so split lines
    and skip empty ones."""
    try:
        return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x]
    except json.JSONDecodeError as exc:
        raise EdgeRouteError(f"MT-Eval file {path} is not valid JSON lines: {exc}") from exc


def trimmed_documents(rows: list[dict]) -> list[dict]:
    """``create_data.py``'s ``__main__``: drop the ``Topic:`` line of every document."""
    return [{**d, "gen_resp": d["gen_resp"].split("\n\n", 1)[1]} for d in rows]


def refinement(sessions: list[list[dict]]) -> list[Dialogue]:
    """``create_refinement_multi``: 40 dialogues of two chained 6-turn tasks."""
    instance_tasks: dict[str, dict[str, list[dict]]] = {}
    seeder = random.Random(RECIPE_SEED)
    for session in sessions:
        instance_i, task_type, _ = session[0]["id"].split("_")
        if task_type in ("trans", "short-qa", "pos", "rel"):
            continue
        instance_tasks.setdefault(instance_i, {}).setdefault(task_type, [])
        for turn in session:
            instance_tasks[instance_i][task_type].append(turn)
    out = []
    session_i = 1
    for instance_i, by_type in instance_tasks.items():
        order = list(by_type)
        seeder.shuffle(order)
        combos = [[t] for t in order]
        order.append(order.pop(0))
        for k, combo in enumerate(combos):
            combo.append(order[k])
        for combo in combos:
            turns: list[Turn] = []
            for task_type in combo:
                for j, turn in enumerate(by_type[task_type]):
                    query = turn["user"]
                    if j == 0 and turns:
                        query = query.split("Instruction: ")[1]
                    turns.append(Turn(query, turn["sys"], True, 0 if turns else None))
            out.append(Dialogue("refinement", "+".join(combo), f"{session_i}_{instance_i}", turns))
            session_i += 1
    return out


def expansion(sessions: list[list[dict]], documents: list[dict]) -> list[Dialogue]:
    """``create_expansion``: 10 dialogues of 7 different tasks on one document."""
    cls_instruct = (
        "Instruction: Classify the initially provided content into one of the following labels: "
        f"{', '.join(TOPICS)}. Just provide the correct label without any further explanations "
        "or extra output."
    )
    instance_tasks: dict[str, dict[str, dict]] = {}
    seeder = random.Random(RECIPE_SEED)
    for session in sessions:
        instance_i, task_type, _ = session[0]["id"].split("_")
        instance_tasks.setdefault(instance_i, {}).setdefault(task_type, [])
        instance_tasks[instance_i][task_type] = session[0]
    out = []
    for session_i, (instance_i, tasks) in enumerate(instance_tasks.items(), 1):
        tasks.pop("qa")
        tasks["qa"] = tasks.pop("short-qa")
        tasks["cls"] = {
            "user": tasks["qa"]["user"].split("Instruction")[0] + cls_instruct,
            "sys": documents[int(instance_i) - 1]["topic"],
        }
        order = [k for k in tasks if k != "rewrite"]
        seeder.shuffle(order)
        turns = []
        for j, task_type in enumerate(order):
            query = tasks[task_type]["user"]
            if j > 0:
                query = query.split("Instruction: ")[1]
            turns.append(Turn(query, tasks[task_type]["sys"], True, 0 if j > 0 else None))
        out.append(Dialogue("expansion", "+".join(order), f"{session_i}_{instance_i}", turns))
    return out


def follow_up(rows: list[dict]) -> list[Dialogue]:
    """``create_follow_up_multi``: MT-Bench's 2 turns (not scored) plus 3 scored follow-ups,
    each building on the conversation since the first question."""
    out = []
    for row in rows:
        turns = [
            Turn(t["user"], t["sys"], j >= 2, 0 if j > 0 else None)
            for j, t in enumerate(row["conversation"])
        ]
        qid = row["conversation"][0]["id"].split("_")[0]
        out.append(Dialogue("follow_up", row["category"], qid, turns))
    return out


def recollection_cls(documents: list[dict]) -> list[Dialogue]:
    """``create_recollection_cls`` (multi-turn): 10 sessions of 10 documents to classify."""
    labels = "\n".join(TOPICS)
    instruction = (
        "You are given one document at each turn where each of them belongs to one of the "
        f"following categories: \n{labels}\n\nYou task is to classify the document. You should "
        "only output the category and nothing else. Reply OK if you understand my instructions."
    )
    seeder = random.Random(RECIPE_SEED)
    articles = []
    for i, doc in enumerate(documents, 1):
        content = "\n\n".join(doc["gen_resp"].split("\n\n")[:-3])
        articles.append({"content": content, "topic": doc["topic"], "id": i})
    seeder.shuffle(articles)
    out = []
    for s in range(10):
        turns = [Turn(instruction, "OK", False, None)]
        for art in articles[s * 10 : (s + 1) * 10]:
            content = art["content"]
            while "\n\n" in content:
                content = content.replace("\n\n", "\n")
            turns.append(Turn(content, art["topic"], True, 0))
        out.append(Dialogue("recollection", "cls", f"cls-{s + 1}", turns))
    return out


def recollection_global(rows: list[dict]) -> list[Dialogue]:
    """``create_recollection_global_inst`` (multi-turn): 2 sessions per instruction of an
    instruction turn and 10 queries to answer under it."""
    inst_to_rows: dict[str, list[dict]] = {}
    for row in rows:
        for inst in row["instructions"]:
            if inst in INSTRUCTION_IDS:
                inst_to_rows.setdefault(inst, []).append(row)
    instruction_seeder = random.Random(INSTRUCTION_SEED)
    seeder = random.Random(RECIPE_SEED)
    out = []
    session_i = 1
    for inst, pool in inst_to_rows.items():
        for _ in range(2):
            prompt = instruction_prompt(inst, instruction_seeder)
            prompt += " Keep all your responses under 200 words."
            turns = [Turn(prompt, "ok.", False, None)]
            for _ in range(10):
                instance = seeder.choice(pool)
                pool.pop(pool.index(instance))
                turns.append(Turn(instance["query"], "", True, 0))
            out.append(Dialogue("recollection", f"global:{inst}", f"global-{session_i}", turns))
            session_i += 1
    return out


def assemble(paths: dict[str, Path]) -> list[Dialogue]:
    """The 168 dialogues of the four tasks from the raw files (``FILES`` keys -> paths)."""
    documents = trimmed_documents(read_jsonl(paths["documents"]))
    sessions = read_jsonl(paths["refinement"])
    dialogues = (
        refinement(sessions)
        + expansion(read_jsonl(paths["refinement"]), documents)
        + follow_up(read_jsonl(paths["follow_up"]))
        + recollection_cls(documents)
        + recollection_global(read_jsonl(paths["global_inst"]))
    )
    for task, (n, turns) in SHAPES.items():
        got = [d for d in dialogues if d.task == task]
        if len(got) != n or any(len(d.turns) != turns for d in got):
            raise EdgeRouteError(
                f"MT-Eval {task}: assembled {len(got)} dialogues with "
                f"{sorted({len(d.turns) for d in got})} turns, expected {n} x {turns}; the raw "
                "files do not match the pinned MT-Eval commit"
            )
    return dialogues
