# Shared by scripts/run_fashion_transfer.sh (make run) and scripts/demo.sh (make demo): the
# transfer task on Fashion-MNIST. A small ViT is pretrained with --method full on classes 0-4
# (T-shirt, trouser, pullover, dress, coat); the fine-tunes adapt it to classes 5-9 (sandal,
# shirt, sneaker, bag, ankle boot), a new classifier on new classes.
#
# Knobs (environment): THREADS (compute threads, default 0 = all cores), EPOCHS (fine-tune
# epochs, default 2), RUNS (output folder, default runs), PRECISION (the fine-tunes' --precision:
# fp32, the default, or bf16; the backbone is always pretrained in fp32, and a bf16 fine-tune's
# folder ends in -bf16).

THREADS=${THREADS:-0}
EPOCHS=${EPOCHS:-2}
RUNS=${RUNS:-runs}
PRECISION=${PRECISION:-fp32}
if [ "$PRECISION" = fp32 ]; then RUN_SUFFIX=""; else RUN_SUFFIX="-$PRECISION"; fi
MODEL="--model custom --dim 64 --depth 4 --heads 4 --mlp-dim 256 --patch 7"
PRETRAIN_ARGS="--data fashion-mnist --classes 0-4 $MODEL --method full --epochs 2 --batch-size 64
  --head-lr 2e-3 --backbone-lr 2e-3 --weight-decay 0.05 --seed 1 --merge"
PRETRAIN_DIR="$RUNS/fashion-pretrain-classes0-4"
FINETUNE_ARGS="--data fashion-mnist --classes 5-9 $MODEL --weights $PRETRAIN_DIR/model.safetensors
  --new-head --epochs $EPOCHS --batch-size 64 --head-lr 5e-3 --backbone-lr 5e-3 --weight-decay 1e-4
  --seed 1 --precision $PRECISION"

if [ ! -x ./train_vit ]; then
  echo "$0: ./train_vit is not built; run make first" >&2
  exit 1
fi

# A top-level number from a results.json (pretty-printed, two-space indent).
json_number() { sed -n "s/^  \"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1"; }

# Pretrains the backbone unless $PRETRAIN_DIR holds one made with the same arguments.
pretrain() {
  local stamp="$PRETRAIN_ARGS"
  if [ -f "$PRETRAIN_DIR/model.safetensors" ] && [ "$(cat "$PRETRAIN_DIR/args.txt" 2>/dev/null)" = "$stamp" ]; then
    printf "== backbone: cached in %s (test accuracy on classes 0-4: %.4f; delete the folder to redo it)\n" \
           "$PRETRAIN_DIR" "$(json_number "$PRETRAIN_DIR/results.json" test_accuracy)"
    return
  fi
  echo "== pretraining a small ViT on Fashion-MNIST classes 0-4 (--method full) -> $PRETRAIN_DIR"
  rm -rf "$PRETRAIN_DIR.partial"
  # shellcheck disable=SC2086
  ./train_vit $PRETRAIN_ARGS --threads "$THREADS" --overwrite --out "$PRETRAIN_DIR.partial"
  echo "$stamp" > "$PRETRAIN_DIR.partial/args.txt"
  rm -rf "$PRETRAIN_DIR"
  mv "$PRETRAIN_DIR.partial" "$PRETRAIN_DIR"
}
