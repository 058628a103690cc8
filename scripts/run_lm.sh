#!/usr/bin/env bash
# make run-lm (scripts/run_lm.sh): the real SmolLM2-135M-Instruct (make deps puts its GGUF in
# data/smollm2) scored on a held-out slice of ARC-Easy's test split, then fine-tuned with Neat on
# a few hundred ARC-Easy training items (the loss on the response only) once per seed (the seed
# draws the training items and the adapter's init), each scored on the same slice. The base runs
# once (it has no seed). One table: accuracy and acc_norm, the base's and each method's mean and
# sample standard deviation over the seeds, and the gain over the base.
# The protocol (FORMAT): cloze (the default: lm-evaluation-harness's "Question: {q}\nAnswer:",
# each option's own text scored by its log-likelihood; acc_norm per character) or llm-adapters
# (the paper's prompt with the options written out, the response "the correct answer is
# answerN"; a 135M model learns a label preference there, not the task: README.md).
# make demo-lm (scripts/run_lm.sh demo): neat, lora and dora on the same items and slice at
# matched trainable parameter counts: rank 8 on q, k, v, up and down for all three (Neat's A and
# B have LoRA's shapes; DoRA adds a magnitude per output row), each for every seed.
# Knobs (environment): TASK (default arc_easy; piqa, boolq, siqa, openbookqa, ... as train_lm
# --task), FORMAT (cloze), TRAIN (training items, default 400), TEST (test items: the first TEST
# of the test split, default 300), EPOCHS (default 1), SEEDS (default "1 2 3"), LR (default
# 3e-3), THREADS (default 0 = all cores), DATA (where scripts/get_data.sh lm-tasks put
# lm/<task>/, default data), RUNS (default runs).
set -eu
cd "$(dirname "$0")/.."
MODE=${1:-run}
TASK=${TASK:-arc_easy}
FORMAT=${FORMAT:-cloze}
TRAIN=${TRAIN:-400}
TEST=${TEST:-300}
EPOCHS=${EPOCHS:-1}
SEEDS=${SEEDS:-1 2 3}
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
COMMON="--task $TASK --format $FORMAT --data-dir $DATA --weights $MODEL --train-items $TRAIN
  --test-items $TEST --epochs $EPOCHS --batch-size 8 --max-len 256 --threads $THREADS --quiet --overwrite"
declare -A method_args=(
  [base]="--method full --eval-only"
  [neat]="--method neat --neat-rank 8 --backbone-lr $LR --warmup-ratio 0.1"
  [lora]="--method lora --lora-r 8 --lora-alpha 16 --backbone-lr $LR --warmup-ratio 0.1"
  [dora]="--method dora --lora-r 8 --lora-alpha 16 --backbone-lr $LR --warmup-ratio 0.1"
)
rows="base neat"
[ "$MODE" = demo ] && rows="neat lora dora"
json_number() { sed -n "s/^  \"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1"; }
run_dir() { if [ "$1" = base ]; then echo "$RUNS/lm-$TASK-$FORMAT-base"; else echo "$RUNS/lm-$TASK-$FORMAT-$1-seed$2"; fi; }
result_file() { if [ "$1" = base ]; then echo "$(run_dir base)/eval.json"; else echo "$(run_dir "$1" "$2")/results.json"; fi; }
for row in $rows; do
  for seed in $SEEDS; do
    out=$(run_dir "$row" "$seed")
    echo "== $row, seed $seed -> $out"
    # shellcheck disable=SC2086
    ./train_lm $COMMON ${method_args[$row]} --seed "$seed" --out "$out"
    [ "$row" = base ] && break   # the base model has no seed
  done
done
# mean and sample standard deviation of the numbers on stdin ("x" alone when there is one)
stats() { awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; if (n < 2) printf "%.4f", m;
               else { v = (q - n * m * m) / (n - 1); printf "%.4f +- %.4f", m, (v > 0 ? sqrt(v) : 0) } }'; }
mean() { awk '{ s += $1; n++ } END { printf "%.1f", s / n }'; }
values() { for seed in $SEEDS; do json_number "$(result_file "$1" "$seed")" "$2"; [ "$1" = base ] && break; done; }
echo
printf "SmolLM2-135M-Instruct (Q4_1 GGUF dequantized to fp32) on %s, %s format: %s train items, %s test items, %s epoch(s), seeds %s\n" \
       "$TASK" "$FORMAT" "$TRAIN" "$TEST" "$EPOCHS" "$SEEDS"
printf "%-6s %16s %18s %18s %24s %10s %10s\n" model "trainable params" "accuracy" "acc_norm" \
       "accuracy per seed" "wall s" "eval s"
for row in $rows; do
  per_seed=$(values "$row" test_accuracy | tr '\n' ' ')
  params=0
  [ "$row" != base ] && params=$(json_number "$(result_file "$row" "${SEEDS%% *}")" trainable_params)
  printf "%-6s %16s %18s %18s %24s %10s %10s\n" "$row" "$params" "$(values "$row" test_accuracy | stats)" \
         "$(values "$row" test_accuracy_norm | stats)" "$per_seed" \
         "$(values "$row" wall_seconds | mean)" "$(values "$row" eval_seconds | mean)"
done
if [ "$MODE" != demo ]; then
  base_acc=$(values base test_accuracy)
  base_norm=$(values base test_accuracy_norm)
  gain() { values neat "$1" | awk -v b="$2" '{ print $1 - b }' | stats; }
  printf "neat - base: accuracy %s, acc_norm %s (mean +- standard deviation over the seeds)\n" \
         "$(gain test_accuracy "$base_acc")" "$(gain test_accuracy_norm "$base_norm")"
fi
