"""Deployment scenarios: a device model on device hardware, an edge model on edge hardware, and a
channel; the presets every environment and CLI command starts from.

Each preset names catalogue entries (:mod:`cost_models.catalogue`) and a channel preset
(:mod:`cost_models.channel`), and is checked on construction (the weights must fit the memory).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cost_models.catalogue import (
    check_fits,
    get_hardware,
    get_model,
    get_precision,
    kv_bytes_per_token,
)
from cost_models.channel import ChannelScenario, get_channel_scenario
from cost_models.device_memory import capacity_tokens
from cost_models.errors import lookup, require


@dataclass(frozen=True)
class DeploymentScenario:
    """A device model on device hardware, an edge model on edge hardware, and a channel.

    ``edge_queue_service_s`` is the mean admission time per request queued ahead at the edge
    (one scheduler iteration of a continuous-batching server; modelled, 50 ms).
    """

    name: str
    device_model: str
    device_hw: str
    device_precision: str
    edge_model: str
    edge_hw: str
    edge_precision: str
    channel: str = "urban"
    edge_queue_service_s: float = 0.05
    description: str = ""

    def __post_init__(self) -> None:
        dm, dh = get_model(self.device_model), get_hardware(self.device_hw)
        em, eh = get_model(self.edge_model), get_hardware(self.edge_hw)
        get_precision(self.device_precision)
        get_precision(self.edge_precision)
        get_channel_scenario(self.channel)
        check_fits(dm, dh, self.device_precision)
        check_fits(em, eh, self.edge_precision)
        require(
            self.edge_queue_service_s >= 0,
            f"edge_queue_service_s must be >= 0, got {self.edge_queue_service_s!r}",
        )

    @property
    def channel_scenario(self) -> ChannelScenario:
        return get_channel_scenario(self.channel)

    @property
    def device_kv_capacity_tokens(self) -> int:
        """Tokens of the device model's KV cache an app can keep: its share of the device's RAM
        less the weights (``cost_models.device_memory``)."""
        return capacity_tokens(self.device_model, self.device_hw, self.device_precision)

    def kv_bytes_per_token(self, side: str) -> int:
        require(side in ("device", "edge"), f"side must be 'device' or 'edge', got {side!r}")
        if side == "device":
            return kv_bytes_per_token(self.device_model, self.device_precision)
        return kv_bytes_per_token(self.edge_model, self.edge_precision)

    def with_overrides(self, **changes: object) -> DeploymentScenario:
        """A copy with some fields replaced (validated again); ``None`` values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        fields = asdict(self)
        unknown = set(changes) - set(fields)
        require(not unknown, f"unknown scenario fields {sorted(unknown)}; allowed: "
                f"{', '.join(fields)}")
        fields.update(changes)
        return DeploymentScenario(**fields)


SCENARIO_PRESETS: dict[str, DeploymentScenario] = {
    s.name: s
    for s in (
        DeploymentScenario(
            "phone_3b__edge_70b",
            "llama-3.2-3b", "phone_npu", "int4",
            "llama-3.1-70b", "h100_sxm", "fp8",
            description="Llama-3.2-3B int4 on a flagship phone NPU; Llama-3.1-70B FP8 on one "
            "H100 SXM (70.6 GB of FP8 weights fit in 80 GB; Meta publishes an official FP8 "
            "405B and NVIDIA/neuralmagic FP8 70B checkpoints for single-node serving)",
        ),
        DeploymentScenario(
            "phone_3b_llamacpp__edge_70b",
            "llama-3.2-3b", "phone_npu_llamacpp", "int4",
            "llama-3.1-70b", "h100_sxm", "fp8",
            description="phone_3b__edge_70b with the phone running llama.cpp / MLC-LLM "
            "(prefill 1/10 of the vendor NPU stack, cost_models.catalogue): recomputing a "
            "long history on the phone costs ten times more",
        ),
        DeploymentScenario(
            "laptop_8b__edge_70b",
            "llama-3.1-8b", "laptop_m3_pro", "int4",
            "llama-3.1-70b", "h100_sxm", "fp8",
            description="Llama-3.1-8B int4 (Q4_0) on an Apple M3 Pro laptop; Llama-3.1-70B FP8 "
            "on one H100 SXM",
        ),
        DeploymentScenario(
            "jetson_7b__edge_14b",
            "qwen2.5-7b", "jetson_agx_orin", "int4",
            "qwen2.5-14b", "a100_80gb", "fp16",
            description="Qwen2.5-7B int4 on a Jetson AGX Orin 64GB; Qwen2.5-14B fp16 on an "
            "A100 80GB",
        ),
        DeploymentScenario(
            "phone_1p5b__edge_7b",
            "qwen2.5-1.5b", "phone_npu", "int4",
            "qwen2.5-7b", "a100_80gb", "fp16",
            description="Qwen2.5-1.5B int4 on a flagship phone NPU; Qwen2.5-7B fp16 on an "
            "A100 80GB",
        ),
    )
}  # fmt: skip


def get_scenario(name: str | DeploymentScenario) -> DeploymentScenario:
    """The preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(SCENARIO_PRESETS, name, "scenario")
