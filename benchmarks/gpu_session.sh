#!/usr/bin/env bash
# One prepared session on a lent GPU machine (no ../shared there): trains the
# leave-one-dataset-out models of two recipes from an `ens2export prepare` folder
# and, if its onnxruntime has the CUDA provider, runs the speed benchmark on it.
#   local:  ens2export prepare -g ../shared/ground_truth -o .device/prep -d DS01 ... -d DS31
#   device: bash benchmarks/gpu_session.sh .device/prep "$OUT"
set -uo pipefail
prep=$1
out=$2
export PYTHONPATH="$PWD/runtime:$PWD/export:$PWD" PYTHONUNBUFFERED=1
[ -e runtime/ens2rt/models ] || ln -s ../../models runtime/ens2rt/models  # what the wheel does
nvidia-smi -L
python3 -c "import torch, onnxruntime as o; print('torch', torch.__version__, torch.cuda.is_available(), 'onnxruntime', o.__version__, o.get_available_providers())"

train() {  # $1 recipe name, rest: extra options
  local recipe=$1
  shift
  timeout 210 python3 benchmarks/accuracy.py train --training-data "$prep" --runs "/tmp/runs/$recipe" \
    --device cuda --workers 8 "$@" -d DS01 -d DS02 -d DS03 -d DS04 -d DS05 -d DS06 -d DS07 -d DS08 \
    -d DS09 -d DS10 -d DS11 -d DS12 -d DS13 -d DS14 -d DS15 -d DS16 -d DS17 -d DS18 -d DS19 -d DS20 \
    -d DS21 -d DS29 -d DS31
}
time train published
tar czf "$out/loo_runs.tar.gz" -C /tmp runs
time train fixed5000 --patience 5000
tar czf "$out/loo_runs.tar.gz" -C /tmp runs

if python3 -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  timeout 150 python3 benchmarks/speed.py run --device cuda --out "$out/speed_cuda.md"
else
  echo "no CUDA provider in this onnxruntime: CUDA speed run skipped"
fi
