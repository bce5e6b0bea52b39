#!/usr/bin/env bash
# The held-out comparison at a GPU's budget, in one command (run from the repository root on a machine with an
# NVIDIA GPU and torch with CUDA): every compared model trained with more seeds and epochs than 2 CPU cores allow,
# several runs at once on the one GPU, then both tables of docs/freqseg.md remade on scan B.
#   SEEDS    seeds per model                      (default "0 1 2 3 4")
#   EPOCHS   epochs per run (CPU runs use 40/30)  (default 120)
#   JOBS     trainings run at once                (default 6)
#   OUT      run folders                          (default runs/gpu)
# On 2 CPU cores SEEDS="0" EPOCHS=1 JOBS=1 checks the script itself in a few minutes.
set -euo pipefail
SEEDS=${SEEDS:-"0 1 2 3 4"}
EPOCHS=${EPOCHS:-120}
JOBS=${JOBS:-6}
OUT=${OUT:-runs/gpu}
PY=${PY:-python3}
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}src PYTHONUNBUFFERED=1
mkdir -p "$OUT/partial"
test -f data/btcv/dataset.json -a -f data/btcv-c/dataset.json || $PY -m freqseg prepare
test -f data/partial/organs/dataset.json || $PY -m freqseg partial
test -f data/partial-noivc/organs/dataset.json || $PY -m freqseg partial --out data/partial-noivc \
  --group organs=spleen,liver,stomach,gallbladder \
  --group kidneys=kidney_right,kidney_left,adrenal_gland_right,adrenal_gland_left \
  --group vessels=aorta,portal_vein_and_splenic_vein,pancreas
test -f data/partial-ivc/ivc/dataset.json || $PY -m freqseg partial --out data/partial-ivc --group ivc=inferior_vena_cava
jobs=()
for s in $SEEDS; do
  for c in gfunet-small unet; do jobs+=("configs/$c.toml $s $OUT/$c-s$s"); done
  for c in universal-text softmax-marginal onehot-branch single-organs single-kidneys single-vessels single-aorta; do
    jobs+=("configs/partial/$c.toml $s $OUT/partial/$c-s$s")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash -c \
  "$PY -m freqseg train --config \$0 --seed \$1 --epochs $EPOCHS --out \$2 --no-progress > \$2.log 2>&1"
first=${SEEDS%% *}
$PY -m freqseg train --config configs/partial/addclass-base.toml --seed "$first" --epochs "$EPOCHS" \
  --out "$OUT/partial/addclass-base-s$first" --no-progress > "$OUT/partial/addclass-base-s$first.log" 2>&1
sed "s#runs/partial/addclass-base-s0#$OUT/partial/addclass-base-s$first#" configs/partial/addclass-finetune.toml \
  > "$OUT/addclass-finetune.toml"
$PY -m freqseg train --config "$OUT/addclass-finetune.toml" --seed "$first" \
  --out "$OUT/partial/addclass-finetune-s$first" --no-progress > "$OUT/partial/addclass-finetune-s$first.log" 2>&1
list() { local IFS=,; echo "$*"; }
g=(); u=(); for s in $SEEDS; do g+=("$OUT/gfunet-small-s$s"); u+=("$OUT/unet-s$s"); done
$PY benchmarks/freqseg_heldout.py "gfunet=$(list "${g[@]}")" "unet=$(list "${u[@]}")" --out "$OUT/heldout.json" \
  | tee "$OUT/heldout.md"
$PY benchmarks/freqseg_partial.py --runs "$OUT/partial" | tee "$OUT/partial.md"
