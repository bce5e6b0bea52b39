"""Prompt-conditioned Super Mario Bros level generation in the manner of MarioGPT.

Serving (``mario.web``, ``mario.sampler``) needs numpy and pillow only; training needs torch (the ``ml`` extra).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
