"""`assetgen bench`: the system benchmark (it reports; it never fails a build).

One process tree on this machine, against the configured (or embedded) database,
broker and storage: the bare generator, a bare in-process loop (generate, encode,
store), the whole pipeline through real `assetgen worker` processes, small jobs,
submit rate, scaling with job size, urgent-job latency under a bulk backfill,
worker memory, and the naive design (jobs/bench/naive.py) as a baseline.
"""

from jobs.bench.run import BenchError, run_bench
from jobs.bench.sizes import DEFAULT, PHASES, QUICK, Sizes

__all__ = ["BenchError", "DEFAULT", "PHASES", "QUICK", "Sizes", "run_bench"]
