"""The global-instruction prompts of MT-Eval's Recollection task, regenerated exactly.

MT-Eval (Kwan et al., EMNLP 2024; KwanWaiChung/MT-Eval at bfe3a46, MIT) does not ship the
assembled global-instruction dialogues: ``create_data.py`` builds them, calling the instruction
classes of ``utils/global_inst.py`` (adapted from Google's IFEval). Those classes draw their
arguments (a start letter, a language, a keyword pair, ...) from one module-level
``random.Random(11)`` in the order the dialogues are built. We reproduce the prompt text of each
class and the same sequence of draws from ``random.Random(11)`` (Python's ``choice``,
``randint`` and ``choices`` are stable across versions), so the user turns are the benchmark's.
Only the prompt text is reproduced here: the rule-based checkers that score the answers are
not needed (no model answers are replayed; quality is modelled).

The keyword list of ``KeywordExistence`` is the repository's ``_WORD_LIST`` (1,525 words),
shipped in ``mteval_word_list.json`` with its source.
"""

from __future__ import annotations

import json
import random
import string
from functools import lru_cache
from pathlib import Path

from cost_models.errors import EdgeRouteError

#: Instruction ids of ``INSTRUCTIONS`` in ``utils/global_inst.py``, in its order
#: (``length_constraints:number_words`` is commented out there, so it is skipped).
INSTRUCTION_IDS: tuple[str, ...] = (
    "startend:start_char",
    "startend:start_emoji",
    "startend:end_phrase",
    "language:response_language",
    "format:json_format",
    "format:bullet_list",
    "length_constraints:number_sentences",
    "keywords:existence",
    "change_case:capital_letter",
    "change_case:lowercase",
    "punctuation:no_comma",
    "combination:two_responses",
    "content:placeholder",
    "format:constrained_response",
)
_ENDING_OPTIONS = ("Any other questions?", "Is there anything else I can help with?")
_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
_LANGUAGES = (
    "English", "Spanish", "Portuguese", "Arabic", "Hindi", "French", "Russian", "German",
    "Japanese", "Italian", "Bengali", "Ukrainian", "Thai", "Urdu", "Tamil", "Telugu",
    "Bulgarian", "Korean", "Polish", "Hebrew", "Persian", "Vietnamese", "Nepali", "Swahili",
    "Kannada", "Marathi", "Gujarati", "Punjabi", "Malayalam", "Finnish",
)  # fmt: skip
_BULLET_SUFFIX = "Use the markdown bullet points such as:\n* This is point 1.\n* This is point 2.\n"
#: ``_MAX_NUM_SENTENCES``, ``_NUM_BULLETS``, ``_NUM_KEYWORDS``, ``_NUM_PLACEHOLDERS`` there.
_MAX_SENTENCES, _MAX_BULLETS, _N_KEYWORDS, _MAX_PLACEHOLDERS = 6, 4, 2, 2
#: Seed of the module-level ``_SEEDER`` in ``utils/global_inst.py``.
INSTRUCTION_SEED = 11


@lru_cache(maxsize=1)
def word_list() -> list[str]:
    """``_WORD_LIST`` of ``utils/global_inst.py`` (shipped beside this module)."""
    data = json.loads(Path(__file__).with_name("mteval_word_list.json").read_text())
    return list(data["words"])


def instruction_prompt(instruction: str, seeder: random.Random) -> str:
    """``INSTRUCTIONS[instruction]().get_prompt()``, drawing from ``seeder`` as the original
    constructor does (same calls, same order)."""
    if instruction == "startend:start_char":
        letter = seeder.choice(string.ascii_lowercase)
        return f"Begin all your responses in the upcoming conversation with the letter {letter}."
    if instruction == "startend:start_emoji":
        return "Begin all your responses in the upcoming conversation with emoji."
    if instruction == "startend:end_phrase":
        phrase = seeder.choice(_ENDING_OPTIONS)
        return (
            "All your responses in the upcoming conversation must end with this exact phrase "
            f"'{phrase}'. No other words should follow this phrase."
        )
    if instruction == "language:response_language":
        lang = seeder.choice(list(_LANGUAGES))
        return (
            f"All your responses in the upcoming conversation must be written in {lang} "
            "language, no other language is allowed."
        )
    if instruction == "format:json_format":
        return (
            "All your responses in the upcoming conversation must be wrapped in JSON format. "
            "You can use markdown ticks such as ```."
        )
    if instruction == "format:bullet_list":
        n = seeder.randint(0, _MAX_BULLETS)
        if n == 0:
            return (
                "All your responses in the upcoming conversation must only use bullet points. "
                f"{_BULLET_SUFFIX}"
            )
        return (
            f"All your responses in the upcoming conversation must contain exactly {n} bullet "
            f"points. {_BULLET_SUFFIX}"
        )
    if instruction == "length_constraints:number_sentences":
        n = seeder.randint(3, _MAX_SENTENCES)
        relation = seeder.choice(["less than"])
        return f"All your responses in the upcoming conversation must be {relation} {n} sentences."
    if instruction == "keywords:existence":
        keywords = sorted(seeder.choices(word_list(), k=_N_KEYWORDS))
        return f"Include keywords {keywords} in all your responses in the upcoming conversation."
    if instruction == "change_case:capital_letter":
        return "All your responses in the upcoming conversation must be in all capital letters."
    if instruction == "change_case:lowercase":
        return "All your responses in the upcoming conversation must be in all lower letters."
    if instruction == "punctuation:no_comma":
        return (
            "All your responses in the upcoming conversation must refrain from the use of any "
            "commas."
        )
    if instruction == "combination:two_responses":
        return (
            "All your responses in the upcoming conversation must have two different responses. "
            "Your two different responses should be separated by 6 asterisk symbols: ******."
        )
    if instruction == "content:placeholder":
        n = seeder.randint(1, _MAX_PLACEHOLDERS)
        return (
            f"All your responses in the upcoming conversation must contain at least {n} "
            "placeholders represented by square brackets, such as [address]."
        )
    if instruction == "format:constrained_response":
        return (
            "All your responses in the upcoming conversation must be one of the following "
            f"options: {_RESPONSE_OPTIONS}."
        )
    raise EdgeRouteError(f"MT-Eval instruction {instruction!r} not in {INSTRUCTION_IDS}")
