"""The catalogue: numeric formats, model shapes and accelerators, each with its source.

Every entry cites where its numbers come from (``source`` fields). The laws that use them live
elsewhere: :mod:`cost_models.roofline` (compute time), :mod:`cost_models.kv_cache` (cache
state), :mod:`cost_models.edge_load` (server load). ``kv_bytes_per_token`` is here because it is
a property of a (model, precision) pair, used by both the roofline and the KV-cache rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cost_models.errors import lookup, require

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
                "bus -> 5300e6 x 8 B x 2 = 84.8 GB/s); ~45 TOPS int8 NPU (assumed: "
                "Qualcomm rates the same Hexagon generation at 45 TOPS in Snapdragon X Elite; it "
                "does not publish a phone figure); fp16 (w4a16 activations) at half the int8 "
                "rate; 12 GB phone RAM (e.g. Samsung Galaxy S25); the device KV budget is "
                "derived from it (cost_models.device_memory: an app's RAM share less weights)"
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


#: Prefill speed of the vendor NPU stack over llama.cpp / MLC-LLM on the same phone: the roofline
#: gives ``phone_npu`` ~1,750 prefill tokens/s for Llama-3.2-3B int4, which matches Qualcomm's
#: own stack (fitted to AI Hub's time to first token; llm.npu, Xu et al. ASPLOS 2025,
#: arXiv:2407.05858, >1,000 tokens/s on a 1.8B model) but not the open runtimes most apps ship:
#: Transformer-Lite (Li et al., arXiv:2403.20041) reports ">10x" faster prefill than MLC-LLM and
#: FastLLM on the same phones, llm.npu 22.4x on average over llama.cpp, MLC-LLM, MNN and TFLite.
#: We take the lower end, 10x. Decode is memory-bound in both (same eta_m).
LLAMA_CPP_PREFILL_GAP = 10.0
HARDWARE_SPECS["phone_npu_llamacpp"] = replace(
    HARDWARE_SPECS["phone_npu"],
    name="phone_npu_llamacpp",
    description="flagship phone (Snapdragon 8 Elite) running llama.cpp / MLC-LLM: the same "
    f"memory system, prefill 1/{LLAMA_CPP_PREFILL_GAP:g} of the vendor NPU stack",
    eta_f=HARDWARE_SPECS["phone_npu"].eta_f / LLAMA_CPP_PREFILL_GAP,
    efficiency_source=(
        "phone_npu's efficiencies with eta_f / 10: Transformer-Lite (arXiv:2403.20041) >10x "
        "prefill over MLC-LLM / FastLLM; llm.npu (arXiv:2407.05858) 22.4x over llama.cpp / "
        "MLC-LLM / MNN / TFLite on average"
    ),
)


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


def kv_bytes_per_token(model: ModelSpec | str, precision: str = "fp16") -> int:
    """``2 (K and V) x n_layers x n_kv_heads x head_dim x kv_bytes`` of ``precision``
    (Kwon et al. 2023, vLLM, Sec. 2.2; grouped-query attention stores only the KV heads)."""
    m = get_model(model)
    return int(2 * m.n_layers * m.n_kv_heads * m.head_dim * get_precision(precision).kv_bytes)
