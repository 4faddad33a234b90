"""The bench's child processes (real `assetgen worker`s and the naive baseline's worker) and their
memory."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil


class ProcessDied(RuntimeError):
    pass


def child_pids(pid: int, *, recursive: bool = False) -> list[int]:
    """pid's children (with recursive, all its descendants); [] when pid is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=recursive)]
    except psutil.NoSuchProcess:
        return []


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    return [pid, *child_pids(pid, recursive=True)]


def status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), or None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def reset_peak_rss(pids: list[int]) -> bool:
    """Reset VmHWM of these processes (Linux: write 5 to clear_refs); False where that is
    refused."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def gpu_memory_by_pid() -> dict[int, float] | None:
    """MiB of GPU memory per process from nvidia-smi; None where there is no nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    usage: dict[int, float] = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            try:
                usage[int(parts[0])] = float(parts[1])
            except ValueError:
                continue
    return usage


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the bench dies, so a killed bench leaves no
    workers behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


class Procs:
    """Child processes, each in its own session (stopped whole), with a log file each."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log_dir, self.env = log_dir, env
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=os.getcwd(),
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def worker(self, name: str, concurrency: int) -> subprocess.Popen:
        return self.spawn(
            name,
            [
                "-m",
                "jobs.cli.main",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
            ],
        )

    def naive_worker(self, name: str, concurrency: int) -> subprocess.Popen:
        return self.spawn(name, ["-m", "jobs.bench.naive", "--concurrency", str(concurrency)])

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(
            f"--- {name}.log (end)\n{self.log_tail(name, chars)}" for name in self.procs
        )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ProcessDied(
                    f"{name} exited with code {proc.returncode}; the end of its log "
                    f"({self.log_dir / (name + '.log')}):\n{self.log_tail(name)}"
                )

    def pids(self) -> list[int]:
        """Every process of every running child tree."""
        return [
            p for proc in self.procs.values() if proc.poll() is None for p in process_tree(proc.pid)
        ]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            # the main process: a warm shutdown that stops its pool children itself
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of its session left behind
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


class MemoryWatch:
    """Peak memory of the worker trees: VmHWM per process, plus the tree's summed RSS seen while
    polling."""

    def __init__(self, procs: Procs):
        self.procs = procs
        self.reset()

    def reset(self) -> None:
        self.hwm_reset = reset_peak_rss(self.procs.pids())
        self.peak_tree_rss_kb = 0
        self.peak_gpu_mb: float | None = None
        self.hwm_kb: dict[int, int] = {}

    def sample(self, gpu: bool = False) -> None:
        pids = self.procs.pids()
        rss = [status_kb(p, "VmRSS") or 0 for p in pids]
        self.peak_tree_rss_kb = max(self.peak_tree_rss_kb, sum(rss))
        for (
            p
        ) in pids:  # VmHWM read while the process lives (a recycled child takes its peak with it)
            hwm = status_kb(p, "VmHWM")
            if hwm:
                self.hwm_kb[p] = max(hwm, self.hwm_kb.get(p, 0))
        if gpu:
            usage = gpu_memory_by_pid()
            if usage is not None:
                mb = sum(usage.get(p, 0.0) for p in pids)
                self.peak_gpu_mb = max(mb, self.peak_gpu_mb or 0.0)

    def report(self) -> dict:
        self.sample()
        hwm = sorted(self.hwm_kb.values(), reverse=True)
        return {
            "tree_peak_sum_mb": round(sum(hwm) / 1024, 1),
            "largest_process_peak_mb": round(hwm[0] / 1024, 1) if hwm else None,
            "processes": len(hwm),
            "tree_rss_peak_sampled_mb": round(self.peak_tree_rss_kb / 1024, 1),
            "peak_scope": "this run (VmHWM reset before it)"
            if self.hwm_reset
            else "since worker start",
            "gpu_peak_mb": self.peak_gpu_mb,
        }
