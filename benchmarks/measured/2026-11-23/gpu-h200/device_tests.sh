python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site XSCALE_ROOT=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg OMP_NUM_THREADS=2
timeout 500 python3 -m pytest -n 8 -q -p no:cacheprovider --continue-on-collection-errors -rfEs plugins tests 2>&1 | tail -150 | tee $OUT/pytest-gpu-machine.txt
