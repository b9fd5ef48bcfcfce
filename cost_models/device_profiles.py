"""Two cited prefill profiles of one flagship phone: the vendor NPU stack and llama.cpp / MLC.

The roofline (``cost_models.roofline``) gives the ``phone_npu`` profile (Snapdragon 8 Elite)
about 1,750 prefill tokens/s for Llama-3.2-3B in 4-bit. That matches Qualcomm's own stack: its
efficiency was fitted to Qualcomm AI Hub's published time to first token (0.159 s for a
128-token prompt on an 8B model, w4a16, Snapdragon 8 Elite), and Qualcomm-class NPU engines
reach >1,000 tokens/s on billion-parameter models (llm.npu, Xu et al., ASPLOS 2025,
arXiv:2407.05858). The open runtimes most apps ship are an order of magnitude slower at
prefill: Transformer-Lite (Li et al., OPPO, arXiv:2403.20041) reports ">10x speedup for the
prefill speed" over GPU-based MLC-LLM and CPU-based FastLLM on the same phones, and llm.npu
22.4x faster prefill on average than its baselines (llama.cpp, MLC-LLM, MNN, TFLite, ...).
Decode is memory-bound in both (weights are read once per token), so only the compute
efficiency differs.

``llama_cpp_class(hw)`` is therefore ``hw`` with ``eta_f`` divided by :data:`PREFILL_GAP` = 10
(the lower end of the two published gaps: a conservative 10x), named ``<hw>_llamacpp``.
"""

from __future__ import annotations

from dataclasses import replace

from cost_models.catalogue import HardwareSpec, get_hardware

#: Prefill speed of the vendor NPU stack over llama.cpp / MLC-LLM on the same phone (lower end
#: of Transformer-Lite's ">10x" and llm.npu's 22.4x average; module docstring).
PREFILL_GAP = 10.0


def llama_cpp_class(hw: HardwareSpec | str) -> HardwareSpec:
    """``hw`` as run by llama.cpp / MLC-LLM: the same memory, ``eta_f / PREFILL_GAP``."""
    base = get_hardware(hw) if isinstance(hw, str) else hw
    return replace(
        base,
        name=f"{base.name}_llamacpp",
        description=f"{base.description}, run by llama.cpp / MLC-LLM (prefill 1/{PREFILL_GAP:g})",
        eta_f=base.eta_f / PREFILL_GAP,
        efficiency_source=(
            f"{base.efficiency_source}; prefill efficiency divided by {PREFILL_GAP:g}: "
            "Transformer-Lite (arXiv:2403.20041) >10x prefill over MLC-LLM / FastLLM, llm.npu "
            "(arXiv:2407.05858) 22.4x over llama.cpp / MLC-LLM / MNN / TFLite on average"
        ),
    )


def phone_profiles() -> dict[str, HardwareSpec]:
    """The two cited phone profiles, by name (for the hardware catalogue)."""
    npu = get_hardware("phone_npu")
    slow = llama_cpp_class(npu)
    return {npu.name: npu, slow.name: slow}
