"""A bundle's VAE precision, one for both VAE graphs ("int8") or one each ("int8/fp32": encode / decode).

The two graphs take int8 very differently. The encode graph's output only conditions the denoiser, which
absorbs its int8 error, while the decode graph's error lands in the final pixels: an int8 encode with an fp32
decode keeps the picture of an fp32 VAE and is still about 7 s faster at 512² on an x86 core (README,
"Backends and bundles"). The manifest's `vae_precision` keeps the string as given; each graph's own precision
is in its `graphs` entry too.
"""
from __future__ import annotations

VAE_GRAPHS = ("encode", "decode")


def vae_graph_precisions(vae_precision: str) -> dict[str, str]:
    """"int8" → {"encode": "int8", "decode": "int8"}; "int8/fp32" → {"encode": "int8", "decode": "fp32"}."""
    parts = vae_precision.split("/")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"a VAE precision is one precision or ENCODE/DECODE (e.g. int8/fp32), got {vae_precision!r}")
    return dict(zip(VAE_GRAPHS, parts if len(parts) == 2 else parts * 2))


def vae_precision_name(encode: str, decode: str) -> str:
    """The inverse: one name when both graphs share a precision ("int8"), else "encode/decode"."""
    return encode if encode == decode else f"{encode}/{decode}"
