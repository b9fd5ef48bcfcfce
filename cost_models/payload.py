"""Payloads that make the uplink matter: attachments sent with a prompt, and KV-cache transfer.

OUR model (modelled; sizes cited). A text prompt is a few hundred bytes on the wire
(``channel.text_payload_bits``); a photo or a document is not, and on a trace-driven link with
real outages its uplink is a real term. An attachment has two costs:

* bytes on the wire for the edge path (the device already holds the file);
* tokens to prefill on whichever side answers: a document becomes text tokens of the prompt;
  an image becomes the vision encoder's patch tokens (``IMAGE_TOKENS``). The vision encoder's
  own compute is not modelled; the models of ``catalogue.MODEL_SPECS`` are text-only, so this
  treats them as their vision variants would be (modelled).

KV-cache migration (beyond the paper, see ``kv_cache.migrate_time_s``): restoring a side's
own evicted cache by sending its KV tensors, ``8 x kv_bytes_per_token x tokens`` bits, over the
link instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.catalogue import kv_bytes_per_token
from cost_models.errors import lookup, require
from cost_models.link import BYTES_PER_TOKEN, text_payload_bits_float

#: Image tokens of a LLaVA-1.5-style vision encoder: CLIP ViT-L/14 at 336 px gives a 24 x 24
#: grid of patches = 576 tokens per image (Liu et al., "Improved Baselines with Visual
#: Instruction Tuning", CVPR 2024).
IMAGE_TOKENS = 576
#: A 12-megapixel phone photo (4000 x 3000) is ~3 MB as JPEG (thesmartphonephotographer.com,
#: "What size are smartphone photos?"; iPhones store 2-4 MB per 12 MP photo): ~2 bits/pixel.
PHOTO_BYTES = 3.0e6
PHOTO_PIXELS = 4000 * 3000
#: Chat apps downscale before upload; OpenAI's vision guide fits an image in 2048 x 2048 and
#: then scales its short side to 768 px: 1024 x 768 for a 4:3 photo. Bytes scale with pixels
#: at the photo's bits per pixel (modelled).
RESIZED_PIXELS = 1024 * 768
#: Mean MT-Eval document (Kwan et al. 2024, ``raw_data/documents.jsonl``, 100 documents):
#: 2,195 characters, i.e. ~549 tokens at 4 characters per token (``channel.BYTES_PER_TOKEN``).
DOCUMENT_CHARS = 2195


@dataclass(frozen=True)
class Attachment:
    """What travels with a prompt: ``wire_bytes`` on the uplink (beyond the prompt text) and
    ``prefill_tokens`` for the model that answers."""

    name: str
    wire_bytes: float
    prefill_tokens: int
    source: str

    def __post_init__(self) -> None:
        require(self.wire_bytes >= 0 and self.prefill_tokens >= 0,
                "attachment bytes and tokens must be >= 0")

    @property
    def wire_bits(self) -> float:
        return 8.0 * self.wire_bytes


ATTACHMENTS: dict[str, Attachment] = {
    a.name: a
    for a in (
        Attachment("none", 0.0, 0, "no attachment"),
        Attachment("photo", PHOTO_BYTES, IMAGE_TOKENS,
                   "12 MP phone photo sent as taken (~3 MB JPEG); 576 image tokens"),
        Attachment("photo_resized", PHOTO_BYTES * RESIZED_PIXELS / PHOTO_PIXELS, IMAGE_TOKENS,
                   "the photo downscaled to 1024 x 768 before upload (OpenAI vision guide), "
                   "bytes in proportion to pixels; 576 image tokens"),
        Attachment("document", DOCUMENT_CHARS, round(DOCUMENT_CHARS / BYTES_PER_TOKEN),
                   "an MT-Eval-sized document as text (2,195 characters, ~549 tokens)"),
    )
}  # fmt: skip


def get_attachment(name: str | Attachment) -> Attachment:
    """The attachment preset called ``name``; :class:`EdgeRouteError` listing the allowed."""
    return lookup(ATTACHMENTS, name, "attachment")


def prompt_upload_bits(prompt_tokens: float, attachment: Attachment | str = "none") -> float:
    """Bits on the uplink for a prompt of ``prompt_tokens`` tokens plus its attachment (the
    attachment rides in the same HTTP request: no second framing)."""
    att = get_attachment(attachment)
    return text_payload_bits_float(float(prompt_tokens)) + att.wire_bits


def kv_migration_bits(model: str, tokens: float, precision: str = "fp16") -> float:
    """Bits to send ``tokens`` tokens of ``model``'s KV cache (``8 x bytes/token x tokens``)."""
    require(tokens >= 0, f"tokens must be >= 0, got {tokens!r}")
    return 8.0 * kv_bytes_per_token(model, precision) * float(tokens)
