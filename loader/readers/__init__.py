"""Inputs, one module (or package) per format, behind the Reader protocol of readers/base.py."""

from .base import Detection, Input, Reader, ReadOptions, Stream, formats, reader_for, register

__all__ = ["Detection", "Input", "ReadOptions", "Reader", "Stream", "formats", "reader_for", "register"]
