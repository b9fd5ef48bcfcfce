"""LLM compute time by roofline, in closed form and vectorised over numpy arrays.

These equations are OUR reconstruction (the paper's exact compute model is not public).

Model. A transformer with ``N`` active parameters, ``n_layers`` layers, ``n_heads`` query heads,
``n_kv_heads`` KV heads of size ``head_dim``. A forward pass over ``L`` new tokens after ``P``
cached ones costs (Kaplan et al. 2020, "Scaling Laws", Table 1; attention written out)::

    FLOPs(L, P) = 2 N L + 4 n_layers n_heads head_dim (L P + L (L + 1) / 2)

(2 FLOPs per multiply-accumulate; the attention term is Q K^T plus A V over the causal
context). Weights are read once per pass; the KV cache of the whole context is read once.

Hardware. Peak FLOP/s ``F`` for the precision's math, memory bandwidth ``B`` (bytes/s) and
two efficiency factors: ``eta_f`` (achieved fraction of peak math in a large GEMM) and
``eta_m`` (achieved fraction of peak bandwidth in a memory-bound GEMV).

Prefill of ``L`` new tokens after ``P`` cached (roofline, Williams et al. 2009)::

    t_prefill = max(FLOPs(L, P) / (F eta_f), (W + kv_b (P + L)) / (B eta_m))

Decode of token ``i`` at context ``c`` (batch 1, one token per step)::

    t(c) = max((2 N + 4 n_layers n_heads head_dim c) / (F eta_f), (W + kv_b c) / (B eta_m))

Both arguments of the max are affine in ``c``, so the sum over ``c = C .. C + O - 1`` splits at
the single crossover point and each piece is an arithmetic series: closed form, no loop.

``W`` is the weight bytes read per token: ACTIVE parameters times bytes per weight (a mixture of
experts reads only its routed experts at batch 1); memory capacity checks use TOTAL parameters.

Edge load. The edge server's utilisation follows a Markov chain (:class:`EdgeLoadProcess`).
Under load a decode step shares the GPU with other sequences of the continuous batch and a new
request waits for admission: :func:`decode_slowdown` and :func:`queue_delay_s` (both modelled,
not measured; see their docstrings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from cost_models.errors import EdgeRouteError, lookup, require

# --------------------------------------------------------------------------------------------
# Precision
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """How weights and KV cache are stored, and which math the hardware runs.

    ``weight_bits`` includes the per-group scale overhead of block quantisation: llama.cpp
    Q8_0 stores 32 int8 weights plus one fp16 scale (8.5 bits/weight) and Q4_0 32 4-bit weights
    plus one fp16 scale (4.5 bits/weight) (ggml ``block_q8_0`` / ``block_q4_0`` in
    ggml/src/ggml-common.h). ``math`` selects the hardware peak: 4-bit weights are dequantised
    to fp16 for the matmuls (llama.cpp, MLC-LLM ``q4f16``, AWQ kernels), 8-bit formats run on
    the int8/fp8 tensor units.
    """

    name: str
    weight_bits: float
    kv_bytes: int
    math: str  # "fp16" or "int8"
    source: str


PRECISIONS: dict[str, Precision] = {
    "fp16": Precision(
        "fp16", 16.0, 2, "fp16", "IEEE half / bfloat16 weights and KV cache (2 bytes each)"
    ),
    "fp8": Precision(
        "fp8",
        8.0,
        1,
        "int8",
        "FP8 E4M3 weights and FP8 KV cache as served by TensorRT-LLM / vLLM on Hopper "
        "(vLLM docs 'FP8 E4M3 KV Cache'); same tensor-core rate as int8 on H100",
    ),
    "int8": Precision(
        "int8",
        8.5,
        1,
        "int8",
        "8-bit weights with one fp16 scale per 32 (llama.cpp Q8_0: 8.5 bits/weight) and an "
        "8-bit KV cache (vLLM/TensorRT-LLM int8/fp8 KV cache)",
    ),
    "int4": Precision(
        "int4",
        4.5,
        2,
        "fp16",
        "4-bit weights with one fp16 scale per 32 (llama.cpp Q4_0: 4.5 bits/weight) and an "
        "fp16 KV cache (llama.cpp default f16 cache; MLC-LLM q4f16_1)",
    ),
}


def get_precision(name: str) -> Precision:
    """The :class:`Precision` called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(PRECISIONS, name, "precision", sort=True)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer's shape, from its published ``config.json``.

    ``total_params`` and ``active_params`` (equal for dense models) are the parameter counts
    published on the model card; the shape fields are copied from ``config.json``
    (``num_hidden_layers``, ``hidden_size``, ``num_attention_heads``, ``num_key_value_heads``,
    ``head_dim`` = hidden_size / num_attention_heads unless given).
    """

    name: str
    hf_id: str
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    total_params: float
    active_params: float
    vocab_size: int
    max_context_tokens: int
    source: str

    def __post_init__(self) -> None:
        for attr in ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim"):
            require(getattr(self, attr) > 0, f"ModelSpec.{attr} must be > 0")
        require(
            0 < self.active_params <= self.total_params,
            f"ModelSpec {self.name}: need 0 < active_params <= total_params",
        )

    @property
    def is_moe(self) -> bool:
        return self.active_params < self.total_params


def _hf(repo: str) -> str:
    return f"https://huggingface.co/{repo}/blob/main/config.json and model card"


MODEL_SPECS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        # Qwen2.5 (Qwen Team 2024, "Qwen2.5 Technical Report", arXiv:2412.15115, Table 1;
        # parameter counts from the model cards: 0.49B, 1.54B, 3.09B, 7.61B, 14.7B).
        ModelSpec("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", 24, 896, 14, 2, 64,
                  0.49e9, 0.49e9, 151936, 32768, _hf("Qwen/Qwen2.5-0.5B-Instruct")),
        ModelSpec("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct", 28, 1536, 12, 2, 128,
                  1.54e9, 1.54e9, 151936, 32768, _hf("Qwen/Qwen2.5-1.5B-Instruct")),
        ModelSpec("qwen2.5-3b", "Qwen/Qwen2.5-3B-Instruct", 36, 2048, 16, 2, 128,
                  3.09e9, 3.09e9, 151936, 32768, _hf("Qwen/Qwen2.5-3B-Instruct")),
        ModelSpec("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", 28, 3584, 28, 4, 128,
                  7.61e9, 7.61e9, 152064, 32768, _hf("Qwen/Qwen2.5-7B-Instruct")),
        ModelSpec("qwen2.5-14b", "Qwen/Qwen2.5-14B-Instruct", 48, 5120, 40, 8, 128,
                  14.7e9, 14.7e9, 152064, 32768, _hf("Qwen/Qwen2.5-14B-Instruct")),
        # Llama 3.1 8B/70B shapes: Meta 2024, "The Llama 3 Herd of Models", arXiv:2407.21783,
        # Table 3; Llama 3.2 from its config.json; parameter counts from the model cards
        # (1.24B, 3.21B, 8.03B, 70.6B).
        ModelSpec("llama-3.2-1b", "meta-llama/Llama-3.2-1B-Instruct", 16, 2048, 32, 8, 64,
                  1.24e9, 1.24e9, 128256, 131072, _hf("meta-llama/Llama-3.2-1B-Instruct")),
        ModelSpec("llama-3.2-3b", "meta-llama/Llama-3.2-3B-Instruct", 28, 3072, 24, 8, 128,
                  3.21e9, 3.21e9, 128256, 131072, _hf("meta-llama/Llama-3.2-3B-Instruct")),
        ModelSpec("llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", 32, 4096, 32, 8, 128,
                  8.03e9, 8.03e9, 128256, 131072, _hf("meta-llama/Llama-3.1-8B-Instruct")),
        ModelSpec("llama-3.1-70b", "meta-llama/Llama-3.1-70B-Instruct", 80, 8192, 64, 8, 128,
                  70.6e9, 70.6e9, 128256, 131072, _hf("meta-llama/Llama-3.1-70B-Instruct")),
        # Llama 2 7B: the model of the published llama.cpp / MLC-LLM speed tables used to check
        # the roofline (Touvron et al. 2023, arXiv:2307.09288; 6.74B parameters).
        ModelSpec("llama-2-7b", "meta-llama/Llama-2-7b-hf", 32, 4096, 32, 32, 128,
                  6.74e9, 6.74e9, 32000, 4096, _hf("meta-llama/Llama-2-7b-hf")),
        # Mixtral 8x7B: 46.7B total, 12.9B active per token (2 of 8 experts)
        # (Jiang et al. 2024, "Mixtral of Experts", arXiv:2401.04088, Sec. 2).
        ModelSpec("mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1", 32, 4096, 32, 8, 128,
                  46.7e9, 12.9e9, 32000, 32768, _hf("mistralai/Mixtral-8x7B-Instruct-v0.1")
                  + "; arXiv:2401.04088"),
    )
}  # fmt: skip


def get_model(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(MODEL_SPECS, name, "model", sort=True)


def weight_bytes(model: ModelSpec, precision: str = "fp16", active: bool = True) -> float:
    """Bytes of weights read per forward pass (``active``) or stored (``active=False``)."""
    prec = get_precision(precision)
    params = model.active_params if active else model.total_params
    return params * prec.weight_bits / 8.0


# --------------------------------------------------------------------------------------------
# Hardware
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HardwareSpec:
    """An accelerator: peak math, memory bandwidth, efficiencies and memory for weights + KV.

    ``eta_f`` and ``eta_m`` are the achieved fractions of peak compute (prefill GEMMs) and of
    peak bandwidth (decode GEMVs). They are modelling choices, fixed per hardware class as
    stated in ``efficiency_source`` and checked against published measured tokens/s in
    ``tests/test_compute.py`` (different models and quantisations from the calibration point).
    ``kv_budget_bytes`` is the memory an application may use for one user's KV cache
    (device only; an assumption, stated per preset).
    """

    name: str
    description: str
    peak_fp16_flops: float
    peak_int8_ops: float
    memory_bandwidth_bytes_s: float
    memory_bytes: float
    eta_f: float
    eta_m: float
    kv_budget_bytes: float
    source: str
    efficiency_source: str = ""
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        require(self.peak_fp16_flops > 0, f"{self.name}: peak_fp16_flops must be > 0")
        require(self.peak_int8_ops > 0, f"{self.name}: peak_int8_ops must be > 0")
        require(self.memory_bandwidth_bytes_s > 0, f"{self.name}: bandwidth must be > 0")
        require(0 < self.eta_f <= 1 and 0 < self.eta_m <= 1, f"{self.name}: eta in (0, 1]")

    def peak_flops(self, precision: str = "fp16") -> float:
        """Peak FLOP/s (or OP/s) for the math that ``precision`` runs on this hardware."""
        return self.peak_int8_ops if get_precision(precision).math == "int8" else (
            self.peak_fp16_flops
        )


def _apple_gpu_fp32_flops(gpu_cores: int, clock_hz: float = 1.398e9) -> float:
    """Apple GPU peak: 128 FP32 ALUs per core x 2 FLOPs (FMA) x clock (fp16 runs at the same
    rate on Apple GPUs). Apple does not publish TFLOPS for M3; the 1.398 GHz clock is the
    third-party measured M3 GPU frequency, so this peak is derived, not quoted."""
    return gpu_cores * 128 * 2 * clock_hz


_APPLE_EFF = (
    "Apple GPU (llama.cpp Metal): eta_m 0.60 from LLaMA-2-7B Q4_0 text generation on an M3 Max "
    "40-core GPU, 63.11 tokens/s (github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference, "
    "README, LLaMA 2 table): 63.11 x 3.79 GB / 400 GB/s = 0.60; eta_f 0.65 from the same "
    "table's prompt processing (M3 Max 741 tokens/s x 13.5 GFLOP/token / 14.3 TFLOPS = 0.70, "
    "M3 185 tokens/s -> 0.70), rounded down for short prompts"
)
_JETSON_EFF = (
    "Jetson (MLC / TensorRT int4): eta_m 0.80 from NVIDIA's Jetson Orin Nano Super blog "
    "(Dec 2024, MLC INT4: Llama-3.1-8B 19.14, Llama-3.2-3B 43.07, Qwen2.5-7B 21.75 tokens/s "
    "at 102 GB/s, i.e. 0.76-0.91 of peak bandwidth); eta_f 0.5 modelled"
)
_DC_EFF = (
    "datacenter GPU (TensorRT-LLM / vLLM): eta_f 0.60 from TensorRT-LLM v0.5 batch-1 first-"
    "token latency, LLaMA-7B fp16 on A100, 2048-token prompt, 133 ms (= 0.69 of 312 TFLOPS; "
    "NVIDIA/TensorRT-LLM docs/source/performance.md, 'Low Latency'); eta_m 0.75 modelled "
    "(batch-1 decode kernels of TensorRT-LLM reach ~70-80% of HBM bandwidth)"
)

HARDWARE_SPECS: dict[str, HardwareSpec] = {
    h.name: h
    for h in (
        HardwareSpec(
            "phone_npu",
            "flagship phone: Snapdragon 8 Elite (Hexagon NPU, LPDDR5X-5300 64-bit)",
            peak_fp16_flops=22.5e12,
            peak_int8_ops=45e12,
            memory_bandwidth_bytes_s=84.8e9,
            memory_bytes=12e9,
            eta_f=0.5,
            eta_m=0.65,
            kv_budget_bytes=1 * 2**30,
            source=(
                "Qualcomm Snapdragon 8 Elite product brief (LPDDR5X up to 5300 MHz, 64-bit "
                "bus -> 5300e6 x 8 B x 2 = 84.8 GB/s); ~45 TOPS int8 NPU as in DESIGN.md "
                "(Qualcomm rates the same Hexagon generation at 45 TOPS in Snapdragon X Elite; it "
                "does not publish a phone figure); fp16 (w4a16 activations) at half the int8 "
                "rate; 12 GB phone RAM; KV budget 1 GiB (assumption: a foreground app's share)"
            ),
            efficiency_source=(
                "calibrated on Qualcomm AI Hub (huggingface.co/qualcomm/Llama-SEA-LION-v3.5-8B-R"
                ", AI Hub Models v0.37): an 8B Llama-architecture model, w4a16, Snapdragon 8 "
                "Elite QRD: 12.93 tokens/s (-> eta_m 0.65 with 4.5 GB of weights) and 0.159 s "
                "time to first token for a 128-token prompt (-> eta_f 0.5 of the fp16 peak)"
            ),
            tags=("device",),
        ),
        HardwareSpec(
            "laptop_m3",
            "laptop: Apple MacBook Air/Pro M3 (10-core GPU, 100 GB/s unified memory)",
            peak_fp16_flops=_apple_gpu_fp32_flops(10),
            peak_int8_ops=_apple_gpu_fp32_flops(10),
            memory_bandwidth_bytes_s=100e9,
            memory_bytes=16e9,
            eta_f=0.65,
            eta_m=0.60,
            kv_budget_bytes=2 * 2**30,
            source="Apple M3 press release, 30 Oct 2023 (100 GB/s unified memory); GPU peak "
            "derived (_apple_gpu_fp32_flops)",
            efficiency_source=_APPLE_EFF,
            tags=("device",),
        ),
        HardwareSpec(
            "laptop_m3_pro",
            "laptop: Apple MacBook Pro M3 Pro (18-core GPU, 150 GB/s unified memory)",
            peak_fp16_flops=_apple_gpu_fp32_flops(18),
            peak_int8_ops=_apple_gpu_fp32_flops(18),
            memory_bandwidth_bytes_s=150e9,
            memory_bytes=36e9,
            eta_f=0.65,
            eta_m=0.60,
            kv_budget_bytes=4 * 2**30,
            source="Apple M3 family press release, 30 Oct 2023 (M3 Pro: 150 GB/s, up to 18-core "
            "GPU, 36 GB); GPU peak derived (_apple_gpu_fp32_flops)",
            efficiency_source=_APPLE_EFF,
            tags=("device",),
        ),
        HardwareSpec(
            "laptop_m3_max",
            "laptop: Apple MacBook Pro M3 Max (40-core GPU, 400 GB/s unified memory)",
            peak_fp16_flops=_apple_gpu_fp32_flops(40),
            peak_int8_ops=_apple_gpu_fp32_flops(40),
            memory_bandwidth_bytes_s=400e9,
            memory_bytes=48e9,
            eta_f=0.65,
            eta_m=0.60,
            kv_budget_bytes=8 * 2**30,
            source="Apple M3 family press release, 30 Oct 2023 (M3 Max 40-core GPU: 400 GB/s); "
            "GPU peak derived (_apple_gpu_fp32_flops)",
            efficiency_source=_APPLE_EFF,
            tags=("device",),
        ),
        HardwareSpec(
            "jetson_orin_nano_super",
            "NVIDIA Jetson Orin Nano Super 8GB (Ampere GPU, LPDDR5 102 GB/s)",
            peak_fp16_flops=16.75e12,
            peak_int8_ops=33.5e12,
            memory_bandwidth_bytes_s=102e9,
            memory_bytes=8e9,
            eta_f=0.5,
            eta_m=0.80,
            kv_budget_bytes=1 * 2**30,
            source="NVIDIA Jetson Orin Nano Super Developer Kit blog, Dec 2024: 67 sparse int8 "
            "TOPS (33.5 dense; fp16 dense half of that), 102 GB/s",
            efficiency_source=_JETSON_EFF,
            tags=("device",),
        ),
        HardwareSpec(
            "jetson_agx_orin",
            "NVIDIA Jetson AGX Orin 64GB (Ampere GPU, LPDDR5 204.8 GB/s)",
            peak_fp16_flops=42.5e12,
            peak_int8_ops=85e12,
            memory_bandwidth_bytes_s=204.8e9,
            memory_bytes=64e9,
            eta_f=0.5,
            eta_m=0.80,
            kv_budget_bytes=8 * 2**30,
            source=(
                "NVIDIA Jetson AGX Orin series data sheet: 204.8 GB/s LPDDR5, GPU 170 sparse "
                "int8 TOPS (85 dense int8, 42.5 dense fp16 tensor TFLOPS), 64 GB"
            ),
            efficiency_source=_JETSON_EFF,
            tags=("device", "edge"),
        ),
        HardwareSpec(
            "a100_80gb",
            "NVIDIA A100 80GB SXM",
            peak_fp16_flops=312e12,
            peak_int8_ops=624e12,
            memory_bandwidth_bytes_s=2039e9,
            memory_bytes=80e9,
            eta_f=0.6,
            eta_m=0.75,
            kv_budget_bytes=20e9,
            source=(
                "NVIDIA A100 Tensor Core GPU datasheet: fp16/bf16 312 TFLOPS dense, int8 624 "
                "TOPS dense, 80GB HBM2e 2,039 GB/s"
            ),
            efficiency_source=_DC_EFF,
            tags=("edge",),
        ),
        HardwareSpec(
            "h100_sxm",
            "NVIDIA H100 SXM5 80GB",
            peak_fp16_flops=989e12,
            peak_int8_ops=1979e12,
            memory_bandwidth_bytes_s=3.35e12,
            memory_bytes=80e9,
            eta_f=0.6,
            eta_m=0.75,
            kv_budget_bytes=6e9,
            source=(
                "NVIDIA H100 Tensor Core GPU datasheet (SXM): bf16 989 TFLOPS dense, fp8/int8 "
                "1,979 dense, HBM3 3.35 TB/s, 80 GB"
            ),
            efficiency_source=_DC_EFF,
            tags=("edge",),
        ),
    )
}


def get_hardware(name: str) -> HardwareSpec:
    """The :class:`HardwareSpec` called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(HARDWARE_SPECS, name, "hardware", sort=True)


def check_fits(model: ModelSpec, hw: HardwareSpec, precision: str) -> None:
    """Raise :class:`EdgeRouteError` if the model's stored weights exceed the memory."""
    need = weight_bytes(model, precision, active=False)
    require(
        need <= hw.memory_bytes,
        f"{model.name} in {precision} needs {need / 1e9:.1f} GB of weights but {hw.name} has "
        f"{hw.memory_bytes / 1e9:.0f} GB; choose a smaller model, lower precision or larger "
        "hardware",
    )


# --------------------------------------------------------------------------------------------
# Roofline times
# --------------------------------------------------------------------------------------------


_SCALARS = (int, float, np.integer, np.floating)


def _scalar_tokens(x: float, name: str, minimum: int) -> float:
    v = float(x)
    if not (v >= minimum and math.isfinite(v)):
        raise EdgeRouteError(f"{name} must be finite and >= {minimum} tokens, got {x!r}")
    return v


def _tokens(x: object, name: str, minimum: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise EdgeRouteError(f"{name} must be finite, got {x!r}")
    if arr.size and np.min(arr) < minimum:
        raise EdgeRouteError(f"{name} must be >= {minimum} tokens, got {x!r}")
    return arr


def _out(x: np.ndarray) -> np.ndarray | float:
    return float(x) if np.ndim(x) == 0 else x


def _kv_bytes(model: ModelSpec, precision: str) -> float:
    return 2.0 * model.n_layers * model.n_kv_heads * model.head_dim * get_precision(
        precision
    ).kv_bytes


def attention_flops_per_token_per_context(model: ModelSpec) -> float:
    """FLOPs that one query token spends per context token in attention (QK^T and AV)."""
    return 4.0 * model.n_layers * model.n_heads * model.head_dim


@dataclass(frozen=True)
class RooflineCoefficients:
    """Per-token costs of one (model, hardware, precision), in seconds, and the scalar path.

    Compute line ``a0 + a1 c`` and memory line ``b0 + b1 c`` of a decode step at context ``c``;
    prefill of ``L`` after ``P`` is ``max(a0 L + a1 (L P + L (L + 1) / 2), b0 + b1 (P + L))``.

    :meth:`prefill_s` and :meth:`decode_s` evaluate these closed forms on Python floats without
    validation (the caller guarantees finite token counts >= 0): they are the scalar path of
    :func:`prefill_time_s` / :func:`decode_time_s` (which validate, then call them) and what a
    simulator's inner loop (``envs``) calls. The vectorised numpy path in those functions
    performs the same arithmetic (``tests/test_compute.py`` holds the two equal).
    """

    a0: float
    a1: float
    b0: float
    b1: float
    #: Slope of (compute line - memory line); its sign says which line dominates first.
    d1: float = field(init=False, repr=False, compare=False)
    #: First integer context at which the dominating line changes (+-inf: never).
    cross: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d0, d1 = self.a0 - self.b0, self.a1 - self.b1
        # Parallel lines (d1 == 0): one dominates everywhere (line a "before" any crossover).
        parallel = math.inf if d0 >= 0 else -math.inf
        cross = float(math.ceil(-d0 / d1)) if d1 != 0.0 else parallel
        object.__setattr__(self, "d1", d1)
        object.__setattr__(self, "cross", cross)

    def prefill_s(self, new_tokens: float, cached_tokens: float) -> float:
        """Seconds to prefill ``new_tokens`` after ``cached_tokens`` (0 if nothing is new)."""
        L, P = new_tokens, cached_tokens
        if L <= 0:
            return 0.0
        t_c = self.a0 * L + self.a1 * (L * P + L * (L + 1.0) / 2.0)
        t_m = self.b0 + self.b1 * (P + L)
        return t_c if t_c > t_m else t_m

    def decode_s(self, context_tokens: float, output_tokens: float) -> float:
        """Seconds to generate ``output_tokens`` after ``context_tokens`` (batch 1): the sum of
        ``max(a0 + a1 c, b0 + b1 c)`` over ``c = C .. C + O - 1``, split at :attr:`cross`."""
        C = context_tokens
        end = C + output_tokens
        split = self.cross
        if split < C:
            split = C
        elif split > end:
            split = end
        n1 = split - C  # tokens before the crossover
        n2 = end - split
        if self.d1 > 0:  # memory line first, compute line after
            k0, k1, m0, m1 = self.b0, self.b1, self.a0, self.a1
        else:
            k0, k1, m0, m1 = self.a0, self.a1, self.b0, self.b1
        return (n1 * k0 + k1 * (n1 * C + n1 * (n1 - 1.0) / 2.0)) + (
            n2 * m0 + m1 * (n2 * split + n2 * (n2 - 1.0) / 2.0)
        )


@lru_cache(maxsize=256)
def roofline_coefficients(
    model: ModelSpec | str, hw: HardwareSpec | str, precision: str | Precision = "fp16"
) -> RooflineCoefficients:
    """The four per-token coefficients (cached: the env calls the cost model every step)."""
    m, h = get_model(model), get_hardware(hw)
    f = h.peak_flops(precision) * h.eta_f
    bw = h.memory_bandwidth_bytes_s * h.eta_m
    return RooflineCoefficients(
        a0=2.0 * m.active_params / f,
        a1=attention_flops_per_token_per_context(m) / f,
        b0=weight_bytes(m, precision) / bw,
        b1=_kv_bytes(m, precision) / bw,
    )


def prefill_time_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    new_tokens: object,
    cached_tokens: object = 0,
    precision: str = "fp16",
) -> np.ndarray | float:
    """Seconds to prefill ``new_tokens`` after ``cached_tokens`` already in the KV cache.

    ``new_tokens == 0`` costs 0 (nothing to compute). Vectorised over both token arguments;
    plain Python scalars take a fast scalar path with the same arithmetic.
    FLOPs / (F eta_f) = a0 L + a1 (L P + L (L + 1) / 2); bytes / (B eta_m) = b0 + b1 (P + L).
    """
    k = roofline_coefficients(model, hw, precision)
    if isinstance(new_tokens, _SCALARS) and isinstance(cached_tokens, _SCALARS):
        L = _scalar_tokens(new_tokens, "new_tokens", 0)
        P = _scalar_tokens(cached_tokens, "cached_tokens", 0)
        return k.prefill_s(L, P)
    L = _tokens(new_tokens, "new_tokens", 0)
    P = _tokens(cached_tokens, "cached_tokens", 0)
    t_compute = k.a0 * L + k.a1 * (L * P + L * (L + 1.0) / 2.0)
    t_memory = k.b0 + k.b1 * (P + L)
    return _out(np.where(L > 0, np.maximum(t_compute, t_memory), 0.0))


def decode_time_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    context_tokens: object,
    output_tokens: object,
    precision: str = "fp16",
) -> np.ndarray | float:
    """Seconds to generate ``output_tokens`` after a context of ``context_tokens`` (batch 1).

    Sum over c = C .. C+O-1 of max(a0 + a1 c, b0 + b1 c), in closed form (module docstring).
    """
    k = roofline_coefficients(model, hw, precision)
    if isinstance(context_tokens, _SCALARS) and isinstance(output_tokens, _SCALARS):
        C = _scalar_tokens(context_tokens, "context_tokens", 0)
        O = _scalar_tokens(output_tokens, "output_tokens", 0)  # noqa: E741
        return k.decode_s(C, O)
    C = _tokens(context_tokens, "context_tokens", 0)
    O = _tokens(output_tokens, "output_tokens", 0)  # noqa: E741
    return _out(_sum_max_affine(k.a0, k.a1, k.b0, k.b1, C, O))


def _series(c0: np.ndarray, n: np.ndarray, k0: float, k1: float) -> np.ndarray:
    """sum_{c=c0}^{c0+n-1} (k0 + k1 c) for n >= 0."""
    return n * k0 + k1 * (n * c0 + n * (n - 1.0) / 2.0)


def _sum_max_affine(
    a0: float, a1: float, b0: float, b1: float, C: np.ndarray, O: np.ndarray,  # noqa: E741
    scalar: bool = False,
) -> np.ndarray:  # fmt: skip
    """sum_{c=C}^{C+O-1} max(a0 + a1 c, b0 + b1 c), exactly, for integer C, O >= 0."""
    d0, d1 = a0 - b0, a1 - b1  # line a minus line b: d0 + d1 c
    end = C + O
    if d1 == 0.0:
        return _series(C, O, a0, a1) if d0 >= 0 else _series(C, O, b0, b1)
    # first integer c where the sign of (d0 + d1 c) changes
    cross = math.ceil(-d0 / d1)
    split = min(max(cross, C), end) if scalar else np.clip(cross, C, end)
    first, second = split - C, end - split
    if d1 > 0:  # b dominates before the crossover, a after
        return _series(C, first, b0, b1) + _series(split, second, a0, a1)
    return _series(C, first, a0, a1) + _series(split, second, b0, b1)


def decode_tokens_per_s(
    model: ModelSpec | str,
    hw: HardwareSpec | str,
    precision: str = "fp16",
    context_tokens: int = 128,
    output_tokens: int = 128,
) -> float:
    """Mean decode speed (tokens/s) over ``output_tokens`` tokens after ``context_tokens``."""
    t = decode_time_s(model, hw, context_tokens, output_tokens, precision)
    return float(output_tokens / t)


# --------------------------------------------------------------------------------------------
# Edge load
# --------------------------------------------------------------------------------------------

#: Decode slow-down relative to an idle server: ``1 + DECODE_LOAD_FACTOR * u``. Modelled (an
#: assumption, not fitted): under continuous batching (Orca, OSDI 2022; vLLM, SOSP 2023) a decode
#: step reads the weights once for the whole batch, but attention over every sequence's cache
#: and the larger GEMMs make each step longer as the batch fills; we take the inter-token
#: latency to double between an idle and a fully loaded server.
DECODE_LOAD_FACTOR = 1.0

#: Utilisation is clipped below this so that M/M/1 waiting times stay finite.
MAX_UTILISATION = 0.98


def decode_slowdown(utilisation: object) -> np.ndarray | float:
    """Multiplier (>= 1) on decode time when the edge runs at ``utilisation`` in [0, 1)."""
    if isinstance(utilisation, _SCALARS):
        return 1.0 + DECODE_LOAD_FACTOR * min(max(float(utilisation), 0.0), MAX_UTILISATION)
    u = np.clip(np.asarray(utilisation, dtype=np.float64), 0.0, MAX_UTILISATION)
    return _out(1.0 + DECODE_LOAD_FACTOR * u)


def queue_delay_s(utilisation: object, service_time_s: object) -> np.ndarray | float:
    """Mean wait before admission: M/M/1 ``W_q = u / (1 - u) * service_time_s``.

    Modelled with the M/M/1 mean waiting time (Kleinrock 1975, Queueing Systems vol. 1): the
    request waits behind ``u / (1 - u)`` requests on average, each taking ``service_time_s``
    to admit.
    """
    if isinstance(utilisation, _SCALARS) and isinstance(service_time_s, _SCALARS):
        if not service_time_s >= 0:  # (message built only on failure: a hot scalar path)
            raise EdgeRouteError(f"service_time_s must be >= 0, got {service_time_s!r}")
        u_f = min(max(float(utilisation), 0.0), MAX_UTILISATION)
        return u_f / (1.0 - u_f) * float(service_time_s)
    u = np.clip(np.asarray(utilisation, dtype=np.float64), 0.0, MAX_UTILISATION)
    s = np.asarray(service_time_s, dtype=np.float64)
    if s.size and np.min(s) < 0:
        raise EdgeRouteError(f"service_time_s must be >= 0, got {service_time_s!r}")
    return _out(u / (1.0 - u) * s)


#: Default utilisation levels and one-second transition matrix of the edge load chain:
#: idle, light, busy, saturated. Modelled: sticky (mean holding time ~20-50 s) so that a burst
#: of load lasts several queries; the stationary mean utilisation is about 0.45.
DEFAULT_LOAD_LEVELS: tuple[float, ...] = (0.1, 0.35, 0.65, 0.9)
DEFAULT_LOAD_TRANSITIONS: tuple[tuple[float, ...], ...] = (
    (0.97, 0.03, 0.00, 0.00),
    (0.02, 0.96, 0.02, 0.00),
    (0.00, 0.025, 0.95, 0.025),
    (0.00, 0.00, 0.05, 0.95),
)

#: Named fixed utilisations for ``edgeroute costs --edge-load``.
LOAD_PRESETS: dict[str, float] = dict(
    zip(("idle", "light", "busy", "saturated"), DEFAULT_LOAD_LEVELS, strict=True)
)


def parse_utilisation(value: str | float) -> float:
    """A utilisation from a float in [0, 1) or a name in :data:`LOAD_PRESETS`."""
    if isinstance(value, str) and value in LOAD_PRESETS:
        return LOAD_PRESETS[value]
    try:
        u = float(value)
    except (TypeError, ValueError):
        raise EdgeRouteError(
            f"edge load {value!r} is neither a number in [0, 1) nor one of "
            f"{', '.join(LOAD_PRESETS)}"
        ) from None
    require(0.0 <= u < 1.0, f"edge load must be in [0, 1), got {value!r}")
    return u


class EdgeLoadProcess:
    """Edge-server utilisation as a discrete-time Markov chain with a step of ``step_s``.

    ``advance(dt_s)`` accumulates time and makes one chain transition per whole ``step_s``
    elapsed (the remainder carries over), so the law of the path does not depend on how the
    caller slices time. Every draw comes from ``rng``.
    """

    def __init__(
        self,
        levels: object = DEFAULT_LOAD_LEVELS,
        transition_matrix: object = DEFAULT_LOAD_TRANSITIONS,
        rng: np.random.Generator | None = None,
        step_s: float = 1.0,
        initial: object | None = None,
    ) -> None:
        lv = np.asarray(levels, dtype=np.float64)
        P = np.asarray(transition_matrix, dtype=np.float64)
        require(lv.ndim == 1 and lv.size >= 1, f"levels must be a 1-D list, got {levels!r}")
        require(
            bool(np.all((lv >= 0) & (lv < 1))), f"levels must be in [0, 1), got {levels!r}"
        )
        require(
            P.shape == (lv.size, lv.size),
            f"transition_matrix must be {lv.size}x{lv.size}, got shape {P.shape}",
        )
        require(
            bool(np.all(P >= 0)) and np.allclose(P.sum(axis=1), 1.0),
            "transition_matrix rows must be probabilities summing to 1",
        )
        require(step_s > 0, f"step_s must be > 0, got {step_s!r}")
        self.levels, self.P, self.step_s = lv, P, float(step_s)
        self._cum = np.cumsum(P, axis=1)
        self.rng = rng if rng is not None else np.random.default_rng()
        self._initial = None if initial is None else np.asarray(initial, dtype=np.float64)
        self.index = 0
        self._carry_s = 0.0
        self.reset()

    def stationary_distribution(self) -> np.ndarray:
        """The chain's stationary distribution (left eigenvector of eigenvalue 1)."""
        w, v = np.linalg.eig(self.P.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
        return pi / pi.sum()

    def reset(self) -> float:
        """Draw the starting level from ``initial`` (default: stationary law)."""
        p = self._initial if self._initial is not None else self.stationary_distribution()
        self.index = int(self.rng.choice(self.levels.size, p=np.clip(p, 0, None) / p.sum()))
        self._carry_s = 0.0
        return self.utilisation

    def advance(self, dt_s: float) -> float:
        """Let ``dt_s`` seconds pass; returns the new utilisation."""
        require(dt_s >= 0 and np.isfinite(dt_s), f"dt_s must be finite and >= 0, got {dt_s!r}")
        self._carry_s += float(dt_s)
        n = int(self._carry_s // self.step_s)
        self._carry_s -= n * self.step_s
        if n > 0:
            # n steps at once: one draw from row ``index`` of P^n (same law as n single steps)
            cum = self._cum[self.index] if n == 1 else np.cumsum(
                np.linalg.matrix_power(self.P, n)[self.index]
            )
            self.index = int(np.searchsorted(cum, self.rng.random() * cum[-1], "right"))
            self.index = min(self.index, self.levels.size - 1)
        return self.utilisation

    @property
    def utilisation(self) -> float:
        return float(self.levels[self.index])
