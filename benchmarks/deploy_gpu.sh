#!/usr/bin/env bash
# The deployment table's GPU columns, in one command on a machine with an NVIDIA GPU (run from the repository root):
#
#   OUT=runs/deploy-gpu bash benchmarks/deploy_gpu.sh runs/b/gfunet-s0 [more run folders]
#
# 1. Records the machine: nvidia-smi, python, torch, onnxruntime and its execution providers, TensorRT if importable.
# 2. ONNX Runtime on the GPU, where the installed onnxruntime has the providers (the `onnxruntime-gpu` wheel; TensorRT
#    from NVIDIA's `tensorrt` wheels): `freqseg_deploy.py --provider CUDAExecutionProvider`, then
#    `TensorrtExecutionProvider` (fp16, and INT8 from the QDQ file, through ORT_TENSORRT_* settings).
# 3. PyTorch on the GPU in any case (fp32, then bf16 autocast): each run's checkpoint, batch 1 and 8 of 256x208.
#
# What this workplace's GPU machine offers (device/KINDS.md, 2026-11): torch with CUDA and the CPU-only onnxruntime;
# nothing can be fetched there, and onnxruntime-gpu's and TensorRT's wheels are larger than what may be carried
# (64 MiB), so there step 2 says why its columns stay empty and step 3 gives the GPU figures.
set -euo pipefail
OUT=${OUT:-runs/deploy-gpu}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}src:benchmarks PYTHONUNBUFFERED=1
runs=("$@")
[ ${#runs[@]} -gt 0 ] || { echo "usage: $0 RUN_DIR [RUN_DIR...] (folders holding best.pt)" >&2; exit 2; }

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
  $PY - <<'PY'
import platform, onnxruntime as ort, torch
print("python", platform.python_version(), "| torch", torch.__version__, "cuda", torch.version.cuda,
      "| onnxruntime", ort.__version__, ort.get_available_providers())
try:
    import tensorrt
    print("tensorrt", tensorrt.__version__)
except ImportError:
    print("tensorrt: not installed")
PY
} | tee "$OUT/versions.txt"

providers=$($PY -c 'import onnxruntime as o; print(" ".join(o.get_available_providers()))')
for provider in CUDAExecutionProvider TensorrtExecutionProvider; do
  if [[ " $providers " == *" $provider "* ]]; then
    if [ "$provider" = TensorrtExecutionProvider ]; then
      export ORT_TENSORRT_FP16_ENABLE=1 ORT_TENSORRT_INT8_ENABLE=1 ORT_TENSORRT_ENGINE_CACHE_ENABLE=1
    fi
    $PY benchmarks/freqseg_deploy.py "${runs[@]}" --provider "$provider" | tee "$OUT/table-$provider.md"
  else
    echo "$provider: not in this onnxruntime ($providers); install onnxruntime-gpu (and tensorrt) for it" \
      | tee "$OUT/table-$provider.md"
  fi
done

$PY - "${runs[@]}" <<'PY' | tee "$OUT/table-pytorch-cuda.md"
import sys, time, torch
from freqseg.checkpoint import load_checkpoint

if not torch.cuda.is_available():
    sys.exit("PyTorch sees no CUDA device: run this on a machine with an NVIDIA GPU")
print("| run | PyTorch CUDA fp32 b1 / b8 ms | bf16 autocast b1 / b8 ms |")
print("|---|---|---|")
for run in sys.argv[1:]:
    model, _, _ = load_checkpoint(f"{run}/best.pt", torch.device("cuda"))
    cells = []
    for dtype in (torch.float32, torch.bfloat16):
        times = []
        for batch in (1, 8):
            x = torch.randn(batch, 1, 256, 208, device="cuda")
            with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype is torch.bfloat16):
                for _ in range(10):
                    model(x)
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(50):
                    model(x)
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / 50 * 1e3)
        cells.append(" / ".join(f"{t:.2f}" for t in times))
    print(f"| {run} | {cells[0]} | {cells[1]} |")
PY
