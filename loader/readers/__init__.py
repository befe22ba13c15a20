"""Inputs, one module (or package) per format, behind the Reader protocol of readers/base.py.

This is the readers' whole public surface: the load, the CLI and the service import from here,
never from a format's own modules.
"""

from .base import Detection, Input, Reader, ReadOptions, Stream, formats, reader_for, register
from .csv.infer import widen

__all__ = ["Detection", "Input", "ReadOptions", "Reader", "Stream", "formats", "reader_for", "register", "widen"]
