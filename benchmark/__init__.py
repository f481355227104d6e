"""Multimodal vs textual intermediate tasks for zero-shot cross-lingual transfer (FLORES-200)."""

__version__ = "0.1.0"
