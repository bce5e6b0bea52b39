"""``DataError``: a dataset, configuration or prompt file that cannot be used; the message names it and what to do.

Images themselves are read through ``medimage``, whose ``ImageError`` (also a ``ValueError``) says what is wrong
with an image file; the command line reports both the same way.
"""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data: the message names the file or field and what to do."""
