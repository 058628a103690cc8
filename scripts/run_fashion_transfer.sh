#!/usr/bin/env bash
# make run: the out-of-the-box transfer experiment on Fashion-MNIST (Debian's
# dataset-fashion-mnist, installed by make deps). Pretrains a small ViT with --method full on
# classes 0-4 (cached in runs/), then fine-tunes it with --method neat on classes 5-9 and
# prints the test accuracy. A few minutes on 2 cores. Knobs: see scripts/fashion_common.sh.
set -eu
cd "$(dirname "$0")/.."
. scripts/fashion_common.sh

start=$(date +%s)
pretrain
out="$RUNS/fashion-neat-classes5-9$RUN_SUFFIX"
echo "== fine-tuning with Neat (rank 8 on query and value) on classes 5-9 -> $out"
# shellcheck disable=SC2086
./train_vit $FINETUNE_ARGS --method neat --neat-rank 8 --threads "$THREADS" --overwrite --out "$out"
r="$out/results.json"
printf "== Neat on Fashion-MNIST classes 5-9: test accuracy %.4f, %s trainable parameters (%.1f s training, %s s in all)\n" \
       "$(json_number "$r" test_accuracy)" "$(json_number "$r" trainable_params)" \
       "$(json_number "$r" wall_seconds)" "$(( $(date +%s) - start ))"
