#!/usr/bin/env bash
# make demo: the fine-tune of scripts/run_fashion_transfer.sh (classes 5-9 from a backbone
# pretrained on classes 0-4) with every method, SEEDS seeds each (default 3), and one table:
# method, trainable parameters, test accuracy mean +- std over the seeds, mean training time.
#
# Budgets are matched to LoRA r 8 on query and value (8 x 8 x 128 = 8,192 adapter values plus
# the 325 of the classifier) where the method allows: Neat r 8, PiSSA / MiLoRA r 8, FourierFT
# 1,024 coefficients per layer, DoRA r 8 (+ its 64-value magnitude per layer), the Houlsby
# adapter with bottleneck 8 (8,768). VeRA (r 256: 320 per layer), BitFit (the biases) and the
# probe are smaller by construction; full trains everything. Every method uses the same
# learning rates and schedule; nothing is tuned in any method's favour. FourierFT starts at zero
# (like the others, at the pretrained model) with scaling 100 (docs/fourierft.md: Delta W's
# size scales with n / (OUT IN), so ViT-B's 300 is far too large for this width-64 model).
#
# Knobs: SEEDS (default 3; FAST=1 means SEEDS=1), METHODS (a subset, space-separated), LIMIT
# (fine-tune on the first LIMIT training images, default 5000; 0 = all 27k), EPOCHS (default 1
# here), and THREADS, RUNS, PRECISION of scripts/fashion_common.sh. 33 fine-tunes of about 8 s
# of CPU each: about 5 minutes on 2 idle cores (4m11s of CPU in the run of docs/results.md), plus the
# backbone's pretraining when it is not cached.
set -eu
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-1}
. scripts/fashion_common.sh

if [ "${FAST:-0}" = 1 ]; then SEEDS=${SEEDS:-1}; else SEEDS=${SEEDS:-3}; fi
LIMIT=${LIMIT:-5000}
METHODS=${METHODS:-"head bitfit lora dora pissa milora vera fourierft adapter neat full"}
declare -A method_args=(
  [head]="--method head"
  [bitfit]="--method bitfit"
  [lora]="--method lora --lora-r 8 --lora-alpha 8"
  [dora]="--method dora --lora-r 8 --lora-alpha 8"
  [pissa]="--method pissa --lora-r 8 --lora-alpha 8"
  [milora]="--method milora --lora-r 8 --lora-alpha 8"
  [vera]="--method vera --vera-r 256"
  [fourierft]="--method fourierft --fourier-n 1024 --fourier-scaling 100 --fourier-zero-init"
  [adapter]="--method adapter --adapter-size 8"
  [neat]="--method neat --neat-rank 8"
  [full]="--method full"
)

pretrain
for method in $METHODS; do
  for seed in $(seq 1 "$SEEDS"); do
    out="$RUNS/fashion-demo-$method-seed$seed$RUN_SUFFIX"
    echo "== $method, seed $seed -> $out"
    # shellcheck disable=SC2086
    ./train_vit $FINETUNE_ARGS ${method_args[$method]} --seed "$seed" --train-limit "$LIMIT" \
      --threads "$THREADS" --quiet --overwrite --out "$out" > /dev/null
  done
done
echo
printf "Fashion-MNIST classes 5-9, %s epochs on %s training images, backbone pretrained on classes 0-4, %s seed(s)%s\n" \
       "$EPOCHS" "$([ "$LIMIT" = 0 ] && echo all || echo "$LIMIT")" "$SEEDS" \
       "$([ "$PRECISION" = fp32 ] || echo ", --precision $PRECISION")"
printf "%-10s %17s %22s %9s\n" method "trainable params" "test accuracy" time
for method in $METHODS; do
  files=()
  for seed in $(seq 1 "$SEEDS"); do files+=("$RUNS/fashion-demo-$method-seed$seed$RUN_SUFFIX/results.json"); done
  params=$(json_number "${files[0]}" trainable_params)
  for f in "${files[@]}"; do
    echo "$(json_number "$f" test_accuracy) $(json_number "$f" wall_seconds)"
  done | awk -v m="$method" -v p="$params" '
    { a[NR] = $1; s += $1; t += $2 }
    END {
      mean = s / NR; v = 0
      for (i = 1; i <= NR; i++) v += (a[i] - mean) ^ 2
      std = NR > 1 ? sqrt(v / (NR - 1)) : 0
      printf "%-10s %17d %14.4f +- %.4f %8.1fs\n", m, p, mean, std, t / NR
    }'
done
