"""The quantization recipe: a backend-neutral JSON file that says, layer by layer, what precision to use.

    {
      "format": "moebius-edge/quant-recipe", "version": 1, "sdk_version": "0.1.0",
      "model": {"block_out_channels": [...], "weights_sha256": "..."},
      "data_hash": "<sha256 of the calibration set>",
      "settings": {... how the set was recorded and the search run ...},
      "layers": {
        "denoiser.down_blocks.0.resnets.0.conv1.conv_pw": {
          "precision": "int8", "observer": "mse",
          "activation_range": {"input": [-3.1, 2.9], "output": [-5.0, 4.7]},
          "activation_qparams": {"input": {"scale": 0.0235, "zero_point": 4}, "output": {...}}
        },
        "denoiser.conv_in.conv_dw": {"precision": "fp32", "observer": null, "activation_range": null,
                                     "activation_qparams": null}, ...
      },
      "excluded": [{"name": "denoiser.conv_in.conv_dw", "reason": "conv_in: ..."}, ...]
    }

Precisions: ``int8`` (int8 weights, symmetric per output channel, and int8 per-tensor activations),
``w8`` (int8 weights, float activations), ``fp16``, ``fp32``. An int8 layer's activation ranges are the
float intervals its int8 grids cover, [(−128 − zero_point)·scale, (127 − zero_point)·scale]; the scale and
zero point themselves are stored too when known (float32 values, written exactly), because recomputing them
from a range can move the scale by an ulp, which flips roundings that then grow over the 200 layers and the
steps. A backend applies the recipe without the calibration data: PT2E (`calibration.pt2e`) takes the
qparams (or, without them, the ranges), ONNX Runtime's calibration tables and ModelOpt amax values take the
ranges.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any, Optional, Union

from edge_sdk.calibration.errors import RecipeError
from edge_sdk.atomic_files import write_text_atomic
from edge_sdk.calibration.observers import OBSERVERS
from edge_sdk.calibration.policy import PRECISIONS, Exclusion

FORMAT = "moebius-edge/quant-recipe"
FORMAT_VERSION = 1
ROLES = ("input", "output")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

Range = Optional[tuple[float, float]]
QParams = Optional[tuple[float, int]]  # (scale, zero_point)
INT8_MIN, INT8_MAX = -128, 127


@dataclasses.dataclass(frozen=True)
class LayerRecipe:
    precision: str
    observer: Optional[str] = None
    # Per role ("input", "output"): the float range an int8 activation covers, or None when not int8.
    activation_range: Optional[dict[str, Range]] = None
    # Per role: the exact (scale, zero_point) behind that range, when known (recipes from `calibrate`).
    activation_qparams: Optional[dict[str, QParams]] = None

    def to_dict(self) -> dict:
        ranges = qparams = None
        if self.activation_range is not None:
            ranges = {role: (list(r) if r is not None else None) for role, r in self.activation_range.items()}
        if self.activation_qparams is not None:
            qparams = {
                role: ({"scale": q[0], "zero_point": q[1]} if q is not None else None)
                for role, q in self.activation_qparams.items()
            }
        return {"precision": self.precision, "observer": self.observer, "activation_range": ranges, "activation_qparams": qparams}

    @classmethod
    def int8(cls, observer: str, qparams: dict[str, QParams]) -> "LayerRecipe":
        """An int8 layer from its activations' (scale, zero_point); the ranges follow from them."""
        ranges = {role: (qparams_range(*q) if q is not None else None) for role, q in qparams.items()}
        return cls("int8", observer, ranges, dict(qparams))


def qparams_range(scale: float, zero_point: int) -> tuple[float, float]:
    """The float interval an affine int8 grid covers."""
    return ((INT8_MIN - zero_point) * scale, (INT8_MAX - zero_point) * scale)


@dataclasses.dataclass(frozen=True)
class Recipe:
    layers: dict[str, LayerRecipe]
    excluded: tuple[Exclusion, ...]
    data_hash: str
    settings: dict
    model: dict
    sdk_version: str

    def precisions(self) -> dict[str, str]:
        return {name: layer.precision for name, layer in self.layers.items()}

    def count(self, precision: str) -> int:
        return sum(1 for layer in self.layers.values() if layer.precision == precision)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sdk_version": self.sdk_version,
            "model": self.model,
            "data_hash": self.data_hash,
            "settings": self.settings,
            "layers": {name: layer.to_dict() for name, layer in self.layers.items()},
            "excluded": [item.to_dict() for item in self.excluded],
        }

    @classmethod
    def from_dict(cls, document: Any, source: str = "recipe") -> "Recipe":
        """Validate and build; every problem raises RecipeError naming the field."""
        if not isinstance(document, dict):
            raise RecipeError(f"{source}: a recipe is a JSON object, got {type(document).__name__}")
        if document.get("format") != FORMAT:
            raise RecipeError(f"{source}: not a quantization recipe (format must be {FORMAT!r}, got {document.get('format')!r})")
        if document.get("version") != FORMAT_VERSION:
            raise RecipeError(f"{source}: recipe version {document.get('version')!r} is not supported (this SDK reads {FORMAT_VERSION})")
        for key, kind in (("sdk_version", str), ("data_hash", str), ("settings", dict), ("model", dict), ("layers", dict), ("excluded", list)):
            if not isinstance(document.get(key), kind):
                raise RecipeError(f"{source}: '{key}' must be a {_KIND_NAMES[kind]}")
        if not _SHA256.match(document["data_hash"]):
            raise RecipeError(f"{source}: 'data_hash' must be 64 lowercase hex digits (a sha256)")
        if not document["layers"]:
            raise RecipeError(f"{source}: 'layers' is empty")
        layers = {name: _layer_from_dict(value, f"{source}: layers[{name!r}]") for name, value in document["layers"].items()}
        excluded = []
        for index, item in enumerate(document["excluded"]):
            if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("reason"), str)):
                raise RecipeError(f"{source}: excluded[{index}] must be an object with string 'name' and 'reason'")
            excluded.append(Exclusion(item["name"], item["reason"]))
        return cls(
            layers=layers,
            excluded=tuple(excluded),
            data_hash=document["data_hash"],
            settings=document["settings"],
            model=document["model"],
            sdk_version=document["sdk_version"],
        )


def save_recipe(recipe: Recipe, path: Union[str, Path]) -> Path:
    """Write the recipe as JSON atomically (a temporary file renamed over `path`)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RecipeError(f"output folder does not exist: {path.parent}")
    # Round-trip through the validator: never write a recipe this SDK would refuse to read.
    Recipe.from_dict(json.loads(json.dumps(recipe.to_dict())), source=str(path))
    return write_text_atomic(path, json.dumps(recipe.to_dict(), indent=2) + "\n")


def load_recipe(path: Union[str, Path]) -> Recipe:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path} is not valid JSON: {exc}") from None
    return Recipe.from_dict(document, source=str(path))


_KIND_NAMES = {str: "string", dict: "JSON object", list: "JSON list"}


def _layer_from_dict(value: Any, where: str) -> LayerRecipe:
    if not isinstance(value, dict):
        raise RecipeError(f"{where} must be a JSON object")
    precision = value.get("precision")
    if precision not in PRECISIONS:
        raise RecipeError(f"{where}.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    observer = value.get("observer")
    ranges, qparams = value.get("activation_range"), value.get("activation_qparams")
    if precision != "int8":
        if ranges is not None or qparams is not None:
            raise RecipeError(f"{where}: a {precision} layer has float activations, so activation_range and activation_qparams must be null")
        return LayerRecipe(precision, observer if observer in OBSERVERS else None, None)
    if observer not in OBSERVERS:
        raise RecipeError(f"{where}.observer must be one of {', '.join(OBSERVERS)} for an int8 layer, got {observer!r}")
    if not isinstance(ranges, dict) or set(ranges) != set(ROLES):
        raise RecipeError(f"{where}.activation_range must be an object with 'input' and 'output' for an int8 layer")
    parsed_ranges = {role: _range_from(ranges[role], f"{where}.activation_range.{role}") for role in ROLES}
    if parsed_ranges["input"] is None:
        raise RecipeError(f"{where}.activation_range.input is null, but an int8 layer quantizes its input")
    if qparams is None:
        return LayerRecipe(precision, observer, parsed_ranges, None)
    if not isinstance(qparams, dict) or set(qparams) != set(ROLES):
        raise RecipeError(f"{where}.activation_qparams must be null or an object with 'input' and 'output'")
    parsed_qparams = {}
    for role in ROLES:
        parsed_qparams[role] = _qparams_from(qparams[role], f"{where}.activation_qparams.{role}")
        stated = parsed_ranges[role]
        if (parsed_qparams[role] is None) != (stated is None):
            raise RecipeError(f"{where}: activation_range.{role} and activation_qparams.{role} must both be set or both null")
        if stated is not None:
            implied = qparams_range(*parsed_qparams[role])
            tolerance = 1e-6 * max(abs(implied[0]), abs(implied[1]))
            if abs(stated[0] - implied[0]) > tolerance or abs(stated[1] - implied[1]) > tolerance:
                raise RecipeError(
                    f"{where}: activation_range.{role} {list(stated)} does not match its scale and zero point "
                    f"(which give {list(implied)})"
                )
    return LayerRecipe(precision, observer, parsed_ranges, parsed_qparams)


def _qparams_from(value: Any, where: str) -> QParams:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"scale", "zero_point"}:
        raise RecipeError(f"{where} must be {{'scale': number, 'zero_point': integer}} or null")
    scale, zero_point = value["scale"], value["zero_point"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise RecipeError(f"{where}.scale must be a positive finite number, got {scale!r}")
    if isinstance(zero_point, bool) or not isinstance(zero_point, int) or not INT8_MIN <= zero_point <= INT8_MAX:
        raise RecipeError(f"{where}.zero_point must be an integer in [{INT8_MIN}, {INT8_MAX}], got {zero_point!r}")
    return (float(scale), int(zero_point))


def _range_from(value: Any, where: str) -> Range:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise RecipeError(f"{where} must be [low, high] numbers or null")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)) or not low <= 0.0 <= high or low == high:
        raise RecipeError(f"{where} = [{low}, {high}] is not an int8 range: need finite low <= 0 <= high, low < high")
    return (low, high)
