#!/usr/bin/env bash
# make run-text: the real pretrained all-MiniLM-L6-v2 (make deps puts it in
# data/all-MiniLM-L6-v2) fine-tuned on the WordNet noun supersense task (26 classes: which
# lexicographer file does a definition belong to? /usr/share/wordnet, the word itself blanked
# out) with head (linear probe), lora and neat at matched budgets: the same examples, epochs,
# sequence length and learning rates; LoRA r 8 and Neat rank 8 on query and value train the
# same number of values. Prints one table. A few minutes on 2 cores: the training set and the
# sequence length are limited, not the methods.
# Knobs (environment): THREADS (default 0 = all cores), TRAIN (training examples, default 1000),
# EVAL (validation / test examples, default 500), EPOCHS (default 2), RUNS (default runs),
# METHODS (a subset of "head lora neat"), PRECISION (--precision: fp32, the default, or bf16; a
# bf16 run's folder ends in -bf16).
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-0}
TRAIN=${TRAIN:-1000}
EVAL=${EVAL:-500}
EPOCHS=${EPOCHS:-2}
RUNS=${RUNS:-runs}
METHODS=${METHODS:-"head lora neat"}
PRECISION=${PRECISION:-fp32}
if [ "$PRECISION" = fp32 ]; then RUN_SUFFIX=""; else RUN_SUFFIX="-$PRECISION"; fi
if [ ! -x ./train_text ]; then
  echo "$0: ./train_text is not built; run make first" >&2
  exit 1
fi
if [ ! -f data/all-MiniLM-L6-v2/model.safetensors ]; then
  echo "$0: data/all-MiniLM-L6-v2/model.safetensors is missing; run make deps" >&2
  exit 1
fi
COMMON="--task wordnet-nouns --weights data/all-MiniLM-L6-v2 --train-limit $TRAIN
  --eval-limit $EVAL --epochs $EPOCHS --max-len 32 --batch-size 32 --head-lr 5e-3
  --backbone-lr 5e-3 --weight-decay 1e-4 --seed 1 --precision $PRECISION"
declare -A method_args=(
  [head]="--method head"
  [lora]="--method lora --lora-r 8 --lora-alpha 8"
  [neat]="--method neat --neat-rank 8"
)
json_number() { sed -n "s/^  \"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1"; }
for method in $METHODS; do
  out="$RUNS/text-wordnet-nouns-$method$RUN_SUFFIX"
  echo "== $method -> $out"
  # shellcheck disable=SC2086
  ./train_text $COMMON ${method_args[$method]} --threads "$THREADS" --quiet --out "$out"
done
echo
printf "all-MiniLM-L6-v2 on WordNet noun supersenses (26 classes), %s train / %s test examples, %s epochs, max-len 32%s\n" \
       "$TRAIN" "$EVAL" "$EPOCHS" "$([ "$PRECISION" = fp32 ] || echo ", --precision $PRECISION")"
printf "%-8s %18s %15s %10s\n" method "trainable params" "test accuracy" time
for method in $METHODS; do
  r="$RUNS/text-wordnet-nouns-$method$RUN_SUFFIX/results.json"
  printf "%-8s %18s %15.4f %9.1fs\n" "$method" "$(json_number "$r" trainable_params)" \
         "$(json_number "$r" test_accuracy)" "$(json_number "$r" wall_seconds)"
done
