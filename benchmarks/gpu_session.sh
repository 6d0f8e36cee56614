#!/usr/bin/env bash
# One prepared session on a lent GPU machine (no ../shared there): trains the
# leave-one-dataset-out models of two recipes at once (vmap) from an
# `ens2export prepare` folder, and, if its onnxruntime has the CUDA provider,
# runs the speed benchmark on it.
#   local:  ens2export prepare -g ../shared/ground_truth -o .device/prep -d DS01 ... -d DS31
#   device: bash benchmarks/gpu_session.sh .device/prep "$OUT"
set -uo pipefail
prep=$1
out=$2
export PYTHONPATH="$PWD/runtime:$PWD/export:$PWD" PYTHONUNBUFFERED=1
[ -e runtime/ens2rt/models ] || ln -s ../../models runtime/ens2rt/models  # what the wheel does
nvidia-smi -L
python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'onnxruntime', o.__version__, o.get_available_providers())"
datasets=()
for d in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 29 31; do datasets+=(-d "DS$d"); done

train() {  # $1: recipe name (run folder), $2: seconds allowed, rest: options
  local recipe=$1 limit=$2
  shift 2
  timeout "$limit" python3 benchmarks/accuracy.py train --together --training-data "$prep" \
    --runs "/tmp/runs/$recipe" --device cuda "${datasets[@]}" "$@"
  tar czf "$out/loo_runs.tar.gz" -C /tmp runs
}
time train smoke 45 --max-steps 50   # times one step of all models, before the long runs
time train published 150
time train fixed5000 130 --patience 5000

if python3 -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  timeout 150 python3 benchmarks/speed.py run --device cuda --out "$out/speed_cuda.md"
else
  echo "no CUDA provider in this onnxruntime: CUDA speed run skipped"
fi
