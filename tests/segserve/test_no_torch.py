"""Serving needs ONNX Runtime only: importing every segserve module must not import torch."""

from __future__ import annotations

import subprocess
import sys

MODULES = ["segserve", "segserve.node", "segserve.http", "segserve.tcp", "segserve.service", "segserve.model"]


def test_importing_segserve_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in MODULES)
        + "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'monai', 'scipy', 'freqseg'))\n"
        + "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
