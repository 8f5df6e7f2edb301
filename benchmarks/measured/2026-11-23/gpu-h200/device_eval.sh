#!/bin/bash
# The user's path on a GPU: xscale evaluate with the GNN-VAE on CUDA, 1,000 spin surrogates per
# variant, a batch of 1,000 refits, then the same command again (everything read back from the cache).
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site XSCALE_ROOT=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
X="python3 -c 'from xscale.cli import main; main()'"
cmd="evaluate --target enigma:scz --models gnn --cv blocked --nulls spin --n-null 1000 --set backend.device=cuda --batch-size 1000 --out /tmp/ev"
s=$(date +%s.%N)
eval "$X $cmd" 2>&1 | tr '\r' '\n' | grep -v "^\s*$" | tee $OUT/evaluate-gnn-cuda.log
e=$(date +%s.%N); echo "wall seconds: $(python3 -c "print(round($e-$s,1))")" | tee -a $OUT/evaluate-gnn-cuda.log
cp /tmp/ev/results.json /tmp/ev/results.md $OUT/ 2>/dev/null
s=$(date +%s.%N)
eval "$X $cmd" 2>&1 | tr '\r' '\n' | grep -v "^\s*$" | tail -5 | tee $OUT/evaluate-gnn-cuda-again.log
e=$(date +%s.%N); echo "wall seconds: $(python3 -c "print(round($e-$s,1))")" | tee -a $OUT/evaluate-gnn-cuda-again.log
