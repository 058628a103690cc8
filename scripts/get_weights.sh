#!/usr/bin/env bash
# Downloads pretrained ViT weights (safetensors) from the Hugging Face hub with curl and checks
# their SHA-256, for train_vit --weights:
#
#   scripts/get_weights.sh vit-base [DIR]      (DIR: ./weights)
#     -> DIR/vit-base-patch16-224-in21k.safetensors   (google/vit-base-patch16-224-in21k, 330 MB)
#   train_vit --method neat --data cifar10 --model vit-base \
#             --weights weights/vit-base-patch16-224-in21k.safetensors
#
# The expected hash is the one the hub publishes for the file (its Git LFS object id, sent as
# the X-Linked-Etag header); set SHA256=<hex> to pin one you trust instead, and REVISION=<commit>
# to pin the repository's revision (default main). An existing file with the right hash is kept.
# Nothing is written under DIR unless the hash matches (the download goes to a .part file first).
set -euo pipefail

usage() { echo "usage: $0 vit-base [DIR]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case "$1" in
  vit-base) repo=google/vit-base-patch16-224-in21k ;;
  *) echo "$0: unknown model '$1' (known: vit-base)" >&2; usage ;;
esac
dir=${2:-weights}
revision=${REVISION:-main}
url="https://huggingface.co/$repo/resolve/$revision/model.safetensors"
file="$dir/${repo#*/}.safetensors"
command -v curl >/dev/null 2>&1 || { echo "$0: needs curl" >&2; exit 1; }
command -v sha256sum >/dev/null 2>&1 || { echo "$0: needs sha256sum (coreutils)" >&2; exit 1; }

expected=${SHA256:-}
if [ -z "$expected" ]; then
  # The hub answers a HEAD request for an LFS file with a redirect whose X-Linked-Etag is the
  # file's SHA-256.
  expected=$(curl -fsSI "$url" | tr -d '\r' | sed -n 's/^[Xx]-[Ll]inked-[Ee]tag: *"\{0,1\}\([0-9a-f]\{64\}\)"\{0,1\}$/\1/p' | head -n 1)
  [ -n "$expected" ] || { echo "$0: the hub sent no SHA-256 for $url (offline? set SHA256=<hex> to give it)" >&2; exit 1; }
fi

mkdir -p "$dir"
if [ -f "$file" ] && echo "$expected  $file" | sha256sum -c --status; then
  echo "$file: already downloaded, sha256 ok"
  exit 0
fi
echo "downloading $url"
curl -fL --retry 3 -o "$file.part" "$url"
if ! echo "$expected  $file.part" | sha256sum -c --status; then
  echo "$0: sha256 mismatch for $url (expected $expected); removed the download" >&2
  rm -f "$file.part"
  exit 1
fi
mv "$file.part" "$file"
echo "$file: sha256 $expected ok"
echo "use it with: train_vit --model vit-base --weights $file ..."
