"""`assetgen bench`: the system benchmark (it reports; it never fails a build).

One process tree on this machine, against the configured (or embedded) database,
broker and storage: the bare generator, a bare in-process loop (generate, encode,
store), the whole pipeline through real `assetgen worker` processes, small jobs,
submit rate, scaling with job size, urgent-job latency under a bulk backfill,
worker memory, and the naive design (worker/naive.py) as a baseline.
"""
from worker.bench.run import BenchError, run_bench
from worker.bench.sizes import DEFAULT, PHASES, QUICK, Sizes

__all__ = ["BenchError", "DEFAULT", "PHASES", "QUICK", "Sizes", "run_bench"]
