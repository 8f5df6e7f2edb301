#!/bin/bash
# issue 4's GPU target on the lent H200: install the carried wheels beside the image's torch, then
# the CUDA test and the batched benchmark at 1,000 refits.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site XSCALE_ROOT=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv; nproc;
  python3 -m pip list 2>/dev/null | grep -iE "^(torch|torch.geometric|numpy|pandas|scipy|scikit-learn|pyro-ppl|xscale.*) "; } | tee $OUT/env.txt
python3 -c "import xscale, xscale_gnn, torch; from xscale.data.brain import load_brain_data; d,_=load_brain_data('enigma:scz'); print('ok', xscale.__version__, torch.__version__, torch.cuda.get_device_name(0), tuple(d.expression.shape))" 2>&1 | tee -a $OUT/env.txt || exit 4
timeout 150 python3 -m pytest -q -p no:cacheprovider plugins/xscale-gnn/tests/test_device.py -rs 2>&1 | tee $OUT/pytest-device.txt
for b in 1000 125; do
  timeout 200 python3 benchmarks/bench_batched.py --device cuda --batch $b --sequential 3 --repeat 2 --out $OUT/batched-cuda-$b.json 2>&1 | tee $OUT/bench-cuda-$b.txt
done
