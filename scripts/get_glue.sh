#!/usr/bin/env bash
# Downloads one GLUE task from the official mirror the GLUE authors' download_glue_data.py
# uses (dl.fbaipublicfiles.com), unpacks it where `train_text --task glue-TASK` looks:
#
#   scripts/get_data.sh glue sst2|cola|mrpc|qqp|stsb|mnli|qnli|rte [DATA_DIR]   (DATA_DIR: ./data)
#   -> DATA_DIR/glue/<SST-2|CoLA|MRPC|QQP|STS-B|MNLI|QNLI|RTE>/{train,dev,test}.tsv
#      (MNLI: dev_matched.tsv, test_matched.tsv)
#
# MRPC is assembled as that script does: Microsoft's train / test files from the SentEval
# mirror, split into train / dev by the GLUE dev ids.
# Integrity: each archive is tested (unzip -t) and the files train_text reads must be present.
# The archives' checksums are NOT pinned: the machine this was written on could not reach the
# mirror to measure them.
set -euo pipefail

usage() { echo "usage: scripts/get_data.sh glue sst2|cola|mrpc|qqp|stsb|mnli|qnli|rte [DATA_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
task=$1
dir=${2:-data}/glue
base=https://dl.fbaipublicfiles.com/glue/data

download() {  # URL FILE
  echo "downloading $1"
  if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$2.part" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -O "$2.part" "$1"
  else echo "get_data.sh glue: need curl or wget" >&2; exit 1; fi
  mv "$2.part" "$2"
}

case "$task" in
  sst2) archive=SST-2.zip folder=SST-2 ;;
  cola) archive=CoLA.zip folder=CoLA ;;
  qqp) archive=QQP-clean.zip folder=QQP ;;
  stsb) archive=STS-B.zip folder=STS-B ;;
  mnli) archive=MNLI.zip folder=MNLI ;;
  qnli) archive=QNLIv2.zip folder=QNLI ;;
  rte) archive=RTE.zip folder=RTE ;;
  mrpc) archive="" folder=MRPC ;;
  *) usage ;;
esac
mkdir -p "$dir"

if [ -n "$archive" ]; then
  download "$base/$archive" "$dir/$archive"
  unzip -tq "$dir/$archive" >/dev/null || { echo "get_data.sh glue: $dir/$archive is corrupt" >&2; exit 1; }
  unzip -oq "$dir/$archive" -d "$dir"
  rm -f "$dir/$archive"
else
  senteval=https://dl.fbaipublicfiles.com/senteval/senteval_data
  dev_ids='https://firebasestorage.googleapis.com/v0/b/mtl-sentence-representations.appspot.com/o/data%2Fmrpc_dev_ids.tsv?alt=media&token=ec5c0836-31d5-48f4-b431-7480817f1adc'
  mkdir -p "$dir/MRPC"
  download "$senteval/msr_paraphrase_train.txt" "$dir/MRPC/msr_paraphrase_train.txt"
  download "$senteval/msr_paraphrase_test.txt" "$dir/MRPC/msr_paraphrase_test.txt"
  download "$dev_ids" "$dir/MRPC/dev_ids.tsv"
  header=$'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String'
  # Rows whose (#1 ID, #2 ID) is a dev id go to dev.tsv, the others to train.tsv.
  awk -F'\t' -v dir="$dir/MRPC" -v header="$header" '
    NR == FNR { dev[$1 "\t" $2] = 1; next }
    FNR == 1 { print header > (dir "/train.tsv"); print header > (dir "/dev.tsv"); next }
    { sub(/\r$/, ""); print > (dir "/" ((($2 "\t" $3) in dev) ? "dev.tsv" : "train.tsv")) }
  ' <(tr -d '\r' < "$dir/MRPC/dev_ids.tsv") "$dir/MRPC/msr_paraphrase_train.txt"
  awk -F'\t' 'FNR == 1 { print "index\t#1 ID\t#2 ID\t#1 String\t#2 String"; next }
              { sub(/\r$/, ""); print (FNR - 2) "\t" $2 "\t" $3 "\t" $4 "\t" $5 }' \
    "$dir/MRPC/msr_paraphrase_test.txt" > "$dir/MRPC/test.tsv"
fi

dev=dev.tsv test=test.tsv
if [ "$task" = mnli ]; then dev=dev_matched.tsv test=test_matched.tsv; fi
for f in train.tsv "$dev" "$test"; do
  [ -s "$dir/$folder/$f" ] || { echo "get_data.sh glue: $dir/$folder/$f is missing after unpacking" >&2; exit 1; }
done
echo "GLUE $task is in $dir/$folder"
