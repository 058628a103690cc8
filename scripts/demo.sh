#!/usr/bin/env bash
# make demo: the fine-tune of scripts/run_fashion_transfer.sh (classes 5-9 from a backbone
# pretrained on classes 0-4) with head (linear probe), lora and neat. LoRA r 8 and Neat rank 8
# on query and value train the same number of values (2 * 8 * 64 per layer); the probe trains
# only the classifier. Prints a table. A few minutes on 2 cores. Knobs: scripts/fashion_common.sh.
set -eu
cd "$(dirname "$0")/.."
. scripts/fashion_common.sh

pretrain
declare -A method_args=(
  [head]="--method head"
  [lora]="--method lora --lora-r 8 --lora-alpha 8"
  [neat]="--method neat --neat-rank 8"
)
for method in head lora neat; do
  out="$RUNS/fashion-demo-$method"
  echo "== $method -> $out"
  # shellcheck disable=SC2086
  ./train_vit $FINETUNE_ARGS ${method_args[$method]} --threads "$THREADS" --quiet --overwrite --out "$out"
done
echo
printf "Fashion-MNIST classes 5-9, %s epochs, backbone pretrained on classes 0-4\n" "$EPOCHS"
printf "%-8s %18s %15s %10s\n" method "trainable params" "test accuracy" time
for method in head lora neat; do
  r="$RUNS/fashion-demo-$method/results.json"
  printf "%-8s %18s %15.4f %9.1fs\n" "$method" "$(json_number "$r" trainable_params)" \
         "$(json_number "$r" test_accuracy)" "$(json_number "$r" wall_seconds)"
done
