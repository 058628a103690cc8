#!/usr/bin/env bash
# Downloads a dataset from its official source, checks the MD5 the authors publish, unpacks it
# where `--data NAME --data-dir DATA_DIR` looks for it:
#
#   scripts/get_data.sh cifar10|cifar100|fashion-mnist [DATA_DIR]     (DATA_DIR: ./data)
#   scripts/get_data.sh glue TASK [DATA_DIR]     (GLUE text tasks: see scripts/get_glue.sh)
#
#   DATA_DIR/cifar-10-batches-bin/  data_batch_{1..5}.bin test_batch.bin batches.meta.txt
#   DATA_DIR/cifar-100-binary/      train.bin test.bin fine_label_names.txt coarse_label_names.txt
#   DATA_DIR/fashion-mnist/         {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#
# Fashion-MNIST is also a Debian package (apt-get install dataset-fashion-mnist), which the
# programs find in /usr/share/datasets/fashion-mnist without any download.
set -euo pipefail

# ---- GLUE: scripts/get_data.sh glue TASK [DATA_DIR] (scripts/get_glue.sh) -------------------
if [ "${1:-}" = glue ]; then exec "$(dirname "$0")/get_glue.sh" "${@:2}"; fi

usage() { echo "usage: $0 cifar10|cifar100|fashion-mnist [DATA_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
name=$1
dir=${2:-data}

# fetch URL FILE MD5: download (curl or wget) unless FILE is already there with that MD5.
fetch() {
  local url=$1 file=$2 md5=$3
  if [ -f "$file" ] && echo "$md5  $file" | md5sum -c --status; then
    echo "$file: already downloaded, checksum ok"
    return
  fi
  echo "downloading $url"
  if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$file.part" "$url"
  elif command -v wget >/dev/null 2>&1; then wget -O "$file.part" "$url"
  else echo "$0: need curl or wget" >&2; exit 1; fi
  if ! echo "$md5  $file.part" | md5sum -c --status; then
    echo "$0: checksum mismatch for $url (expected md5 $md5); removed the download" >&2
    rm -f "$file.part"
    exit 1
  fi
  mv "$file.part" "$file"
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
  *) usage ;;
esac
