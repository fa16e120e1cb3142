#!/bin/bash
# TOP2 (784-128-64-10) on Fashion-MNIST: ANN vs SNN C1..C4 (T in {10, 30} x theta in {0.5, 1.5}),
# trained at the co-design search's budget, then model-wise int8 bit flips at BER 1e-2
# (20 trials, the same masks for all five models) and op-count energy.
#   bash benchmarks/top2_table.sh [OUT_DIR]      (about 15 minutes on 2 CPU cores)
set -euo pipefail
OUT=${1:-runs/top2_table}
S=${SPIKELOOM:-.venv/bin/spikeloom}
COMMON="--dataset fashion-mnist --topology 784-128-64-10 --epochs 10 --batch-size 128 --lr 1e-3 --lr-schedule cosine --seed 0 --quiet"
$S train $COMMON --arch ann --out "$OUT/ann"
for cfg in "c1 10 0.5" "c2 10 1.5" "c3 30 0.5" "c4 30 1.5"; do
  set -- $cfg
  $S train $COMMON --timesteps "$2" --threshold "$3" --out "$OUT/$1"
done
for m in ann c1 c2 c3 c4; do
  $S faults --model "$OUT/$m/model.pt" --dataset fashion-mnist --ber 1e-2 --trials 20 \
    --scope model --seed 0 --quiet --out "$OUT/$m/faults"
  $S energy --model "$OUT/$m/model.pt" --dataset fashion-mnist --out "$OUT/$m/energy"
done
