"""Rewrites of the QDQ ONNX files `onnxruntime.quantization` writes, one per module (see ../quantize.py)."""
