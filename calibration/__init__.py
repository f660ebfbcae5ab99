"""Calibration helpers for Moebius Edge: reproducible inputs for measuring exported models."""
