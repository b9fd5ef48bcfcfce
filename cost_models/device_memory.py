"""Device KV memory that binds: the budget an app has on a phone, and what happens past it.

Budget. A phone app does not get the phone's RAM: the OS, the GPU/display buffers and other
apps keep much of it, and Android's low-memory killer ends a foreground process that keeps
allocating. What an app can hold is therefore a share of RAM::

    kv_budget_bytes = APP_MEMORY_SHARE x ram_bytes - stored weight bytes

What one app may hold, measured on two platforms: on iOS the default per-process limit is about
3.3 GB on a 12 GB iPhone (6-8 GB only with Apple's ``increased-memory-limit`` entitlement, which
Apple documents as available "only on some device models"; measured in LNPANDY/NX2Apple
``ENTITLEMENTS.md``), a share of 0.275; on Android about 4 GB of an 8 GB Samsung Galaxy S23
(Android 14) was available to an app running ExecuTorch's Llama demo (pytorch/executorch issue
#3599, May 2024), a share of 0.5. An app that must not be killed on either platform budgets for
the tighter one: ``APP_MEMORY_SHARE = 3.3 / 12`` (``ANDROID_APP_MEMORY_SHARE = 0.5`` is the
permissive alternative; MobileLLM, Liu et al. ICML 2024, argues for at most 10%, which would not
even hold a 3B model's weights). So a 12 GB Snapdragon 8 Elite phone (e.g. Samsung Galaxy S25)
running Llama-3.2-3B in 4-bit (1.81 GB of weights) keeps ``3.30 - 1.81 = 1.49 GB`` of KV cache:
13.0k tokens at fp16 (114,688 bytes per token), so 8-16k-token sessions overflow it (with the
Android share it would hold 36k).

Eviction past the budget (our model of a single-sequence phone runtime: llama.cpp and MLC-LLM
keep one contiguous KV buffer per sequence and do not page it to flash). When a device turn's
context (history + new prompt + answer) would exceed the capacity ``C`` tokens, the runtime
keeps only the most recent ``C - prompt - answer`` tokens of history (the oldest turns are
dropped, as a chat front-end trims history to its context window), and because every kept
token moved to a new position the cached keys are no longer valid: the kept window is
prefilled again (recomputed) before the new prompt (a prompt that alone, with its answer,
exceeds the capacity keeps only its most recent tokens). Every later device turn of that dialogue
overflows again and recomputes its window, so a long session on the phone pays a prefill of
about ``C`` tokens per turn. After such a turn the device holds no valid *prefix* of the
dialogue (its cache is a window), which is what ``DialogueKVState`` records (device prefix 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.catalogue import get_hardware, get_model, kv_bytes_per_token, weight_bytes
from cost_models.errors import require

#: Share of the phone's RAM one app may hold: iOS's default per-process limit, ~3.3 GB of a
#: 12 GB iPhone (module docstring for the sources).
APP_MEMORY_SHARE = 3.3 / 12.0
#: Android: ~4 GB of an 8 GB Galaxy S23 available to an app (pytorch/executorch issue #3599).
ANDROID_APP_MEMORY_SHARE = 4.0 / 8.0


def kv_budget_bytes(
    ram_bytes: float, stored_weight_bytes: float, app_share: float = APP_MEMORY_SHARE
) -> float:
    """Bytes of KV cache an app can keep: ``app_share x ram - weights`` (module docstring)."""
    require(ram_bytes > 0, f"ram_bytes must be > 0, got {ram_bytes!r}")
    require(0 < app_share <= 1, f"app_share must be in (0, 1], got {app_share!r}")
    require(
        stored_weight_bytes >= 0, f"stored_weight_bytes must be >= 0, got {stored_weight_bytes!r}"
    )
    budget = app_share * ram_bytes - stored_weight_bytes
    require(
        budget > 0,
        f"the weights ({stored_weight_bytes / 1e9:.2f} GB) do not fit in the app's share "
        f"{app_share:g} of {ram_bytes / 1e9:.1f} GB RAM; choose a smaller model or precision",
    )
    return float(budget)


def capacity_tokens(
    model: str, hardware: str, precision: str, app_share: float = APP_MEMORY_SHARE
) -> int:
    """KV tokens of ``model`` in ``precision`` that fit in ``hardware``'s app budget."""
    m, hw = get_model(model), get_hardware(hardware)
    budget = kv_budget_bytes(hw.memory_bytes, weight_bytes(m, precision, active=False), app_share)
    return int(budget // kv_bytes_per_token(m, precision))


@dataclass(frozen=True)
class DeviceTurn:
    """Token accounting of one device turn under a KV capacity.

    ``kept_history``: history tokens in the model's context; ``dropped_history``: history
    tokens the device no longer sees; ``dropped_prompt``: tokens of the new prompt itself that
    do not fit (only when prompt + answer exceed the capacity: the oldest are cut);
    ``prefill_tokens``: tokens prefilled (recomputed history + the prompt kept);
    ``cached_tokens``: tokens reused from the cache; ``context_tokens``: context when decoding
    starts; ``overflow``: the window rule applied; ``prefix_after``: the valid dialogue prefix
    the device holds after the turn (0 after an overflow).
    """

    kept_history: int
    dropped_history: int
    dropped_prompt: int
    prefill_tokens: int
    cached_tokens: int
    context_tokens: int
    overflow: bool
    prefix_after: int


def device_turn(
    history_tokens: int,
    cached_prefix_tokens: int,
    prompt_tokens: int,
    output_tokens: int,
    capacity_tokens: int,
) -> DeviceTurn:
    """What serving a turn on the device costs in tokens (module docstring, "Eviction")."""
    H, P, L = int(history_tokens), int(cached_prefix_tokens), int(prompt_tokens)
    out, C = int(output_tokens), int(capacity_tokens)
    require(
        min(H, L, out, C) >= 0 and 0 <= P <= H,
        f"token counts must be >= 0 with cached <= history, got history {H}, cached {P}, "
        f"prompt {L}, output {out}, capacity {C}",
    )
    if H + L + out <= C:
        return DeviceTurn(H, 0, 0, H - P + L, P, H + L, False, H + L + out)
    kept = max(0, C - L - out)
    prompt_kept = min(L, max(0, C - out))
    return DeviceTurn(
        kept, H - kept, L - prompt_kept, kept + prompt_kept, 0, kept + prompt_kept, True, 0
    )
