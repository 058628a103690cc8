#!/usr/bin/env bash
# make run-lm (scripts/run_lm.sh): the real SmolLM2-135M-Instruct (make deps puts its GGUF in
# data/smollm2) scored on a held-out slice of ARC-Easy's test split (choice log-likelihood of
# LLM-Adapters' response "the correct answer is answerN"), then fine-tuned with Neat on a few
# hundred ARC-Easy training items in LLM-Adapters' prompt (the loss on the response only), then
# scored on the same slice. About 8 minutes on 2 idle cores (base 2, Neat 6).
# make demo-lm (scripts/run_lm.sh demo): neat, lora and dora on the same items and slice at
# matched trainable parameter counts: rank 8 on q, k, v, up and down for all three (Neat's A and
# B have LoRA's shapes; DoRA adds a magnitude per output row). About 6 minutes a method.
# Each prints one table. Knobs (environment): TASK (default arc_easy; piqa, boolq, ... as
# train_lm --task), TRAIN (training items, default 400), TEST (test items, default 300), EPOCHS
# (default 1), SEED (default 1), LR (default 3e-3), THREADS (default 0 = all cores), DATA
# (where scripts/get_data.sh lm-tasks put lm/<task>/, default data), RUNS (default runs).
set -eu
cd "$(dirname "$0")/.."
MODE=${1:-run}
TASK=${TASK:-arc_easy}
TRAIN=${TRAIN:-400}
TEST=${TEST:-300}
EPOCHS=${EPOCHS:-1}
SEED=${SEED:-1}
LR=${LR:-3e-3}
THREADS=${THREADS:-0}
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
MODEL=data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -x ./train_lm ]; then
  echo "$0: ./train_lm is not built; run make first" >&2
  exit 1
fi
if [ ! -f "$MODEL" ]; then
  echo "$0: skipped: $MODEL is missing (make deps fetches it)"
  exit 0
fi
for split in train test; do
  if [ ! -f "$DATA/lm/$TASK/$split.jsonl.gz" ]; then
    echo "$0: skipped: $DATA/lm/$TASK/$split.jsonl.gz is missing (scripts/get_data.sh lm-tasks $DATA fetches it)"
    exit 0
  fi
done
COMMON="--task $TASK --data-dir $DATA --weights $MODEL --train-items $TRAIN --test-items $TEST
  --epochs $EPOCHS --batch-size 8 --max-len 256 --seed $SEED --threads $THREADS --quiet --overwrite"
declare -A method_args=(
  [base]="--method full --eval-only"
  [neat]="--method neat --neat-rank 8 --backbone-lr $LR --warmup-ratio 0.1"
  [lora]="--method lora --lora-r 8 --lora-alpha 16 --backbone-lr $LR --warmup-ratio 0.1"
  [dora]="--method dora --lora-r 8 --lora-alpha 16 --backbone-lr $LR --warmup-ratio 0.1"
)
rows="base neat"
[ "$MODE" = demo ] && rows="neat lora dora"
json_number() { sed -n "s/^  \"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1"; }
for row in $rows; do
  out="$RUNS/lm-$TASK-$row"
  echo "== $row -> $out"
  # shellcheck disable=SC2086
  ./train_lm $COMMON ${method_args[$row]} --out "$out"
done
echo
printf "SmolLM2-135M-Instruct (Q4_1 GGUF dequantized to fp32) on %s: %s train items, %s test items, %s epoch(s)\n" \
       "$TASK" "$TRAIN" "$TEST" "$EPOCHS"
printf "%-6s %18s %15s %12s %12s\n" model "trainable params" "test accuracy" "train time" "eval time"
for row in $rows; do
  r="$RUNS/lm-$TASK-$row/results.json"
  [ "$row" = base ] && r="$RUNS/lm-$TASK-$row/eval.json"
  printf "%-6s %18s %15.4f %11.1fs %11.1fs\n" "$row" "$( [ "$row" = base ] && echo 0 || json_number "$r" trainable_params)" \
         "$(json_number "$r" test_accuracy)" "$(json_number "$r" wall_seconds)" "$(json_number "$r" eval_seconds)"
done
