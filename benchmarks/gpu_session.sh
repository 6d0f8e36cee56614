#!/usr/bin/env bash
# One prepared session on a lent GPU machine (no ../shared there): trains
# leave-one-dataset-out models with the published recipe from an
# `ens2export prepare` folder and, if its onnxruntime has the CUDA provider,
# runs the speed benchmark on it.
#   local:  ens2export prepare -g ../shared/ground_truth -o .device/prep -d DS01 ... -d DS31
#   device: bash benchmarks/gpu_session.sh .device/prep "$OUT" SECONDS
# Measured on an H100 (2026-11-26): 8 worker processes time-slice the GPU at about
# 80 ms per step each, 10 models in 210 s; the tiny network is launch-bound there.
set -uo pipefail
prep=$1
out=$2
seconds=${3:-210}
export PYTHONPATH="$PWD/runtime:$PWD/export:$PWD" PYTHONUNBUFFERED=1
[ -e runtime/ens2rt/models ] || ln -s ../../models runtime/ens2rt/models  # what the wheel does
nvidia-smi -L
python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'onnxruntime', o.__version__, o.get_available_providers())"

datasets=()
for d in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 29 31; do datasets+=(-d "DS$d"); done
timeout "$seconds" python3 -m benchmarks.accuracy train --training-data "$prep" --runs /tmp/runs/published \
  --device cuda --workers 8 "${datasets[@]}"
tar czf "$out/loo_runs.tar.gz" -C /tmp runs

if python3 -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  timeout 150 python3 -m benchmarks.speed run --device cuda --out "$out/speed_cuda.md"
else
  echo "no CUDA provider in this onnxruntime: CUDA speed run skipped"
fi
