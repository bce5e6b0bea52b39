#!/usr/bin/env bash
# The GPU code path of freqseg, checked on a machine with an NVIDIA GPU (run from the repository root):
# transforms agree on CUDA, bf16 autocast training runs, and torchrun (DistributedDataParallel) trains.
# Needs data/btcv (python -m freqseg prepare) and torch with CUDA. Runs go to WORK; the summaries to OUT.
set -euo pipefail
OUT=${OUT:-runs/gpu-check}
WORK=${WORK:-/tmp/freqseg-gpu-check}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 - <<'PY' | tee "$OUT/transforms.txt"
import time, torch
from freqseg.spectral import fft_filter, matmul_filter
from freqseg.models.gfunet import GFUNet, config_for
print("torch", torch.__version__, torch.cuda.get_device_name())
x = torch.randn(8, 64, 128, 128, device="cuda")
w = torch.randn(64, 128, 65, 2, device="cuda") * 0.02
print("fft vs matmul on cuda, max abs diff:", (fft_filter(x, w) - matmul_filter(x, w)).abs().max().item())
model = GFUNet(config_for("small", num_classes=13)).cuda()
batch = torch.randn(32, 1, 256, 208, device="cuda")
for dtype in (torch.float32, torch.bfloat16):
    with torch.autocast("cuda", dtype=dtype, enabled=dtype is torch.bfloat16), torch.no_grad():
        model(batch); torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            model(batch)
        torch.cuda.synchronize()
    print(f"forward, batch 32 of 256x208, {dtype}: {(time.perf_counter() - start) / 10 * 1e3:.1f} ms")
PY
start=$(date +%s)
python3 -m freqseg train --config configs/gfunet-small.toml --out "$WORK/small" --no-progress > "$OUT/train.log" 2>&1
echo "single GPU, 40 epochs: $(( $(date +%s) - start )) s" | tee "$OUT/timing.txt"
python3 -m freqseg evaluate "$WORK/small/best.pt" --out "$WORK/small/eval" | tail -3 | tee -a "$OUT/timing.txt"
torchrun --standalone --nproc-per-node 1 -m freqseg train --config configs/gfunet-small.toml --epochs 2 \
    --out "$WORK/ddp" --no-progress > "$OUT/ddp.log" 2>&1 && echo "torchrun DDP: ok" | tee -a "$OUT/timing.txt"
cp "$WORK/small/metrics.csv" "$OUT/metrics.csv"
