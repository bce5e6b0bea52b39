"""segserve: the freqseg segmentation model served over HTTP and JSON-over-TCP, results shared via geecache.

Inference uses ONNX Runtime only (importing segserve never imports torch). Run a node
with ``segserve`` (or ``python -m segserve``); see docs/segserve.md.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
