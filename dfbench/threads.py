"""Thread counts and waiting policy: stay fast on a shared, busy machine.

Three things make a CPU evaluation collapse when another process competes for the cores:

1. **More threads than CPUs we may use.** torch and OpenCV size their pools from the machine's
   core count, not from the process's CPU affinity (``taskset``, Slurm/K8s cpusets) or its cgroup
   CPU quota (Docker ``--cpus``, K8s limits). :func:`available_cpus` reads all three.
2. **Spinning OpenMP workers.** At the end of each parallel region an idle OpenMP thread spins
   (GNU libgomp: ~300k iterations; Intel's: 200 ms) before it sleeps. When a core is shared, the
   spinning thread burns the time slice the thread holding the real work needs, and a model of
   hundreds of small parallel regions slows by tens of times. ``OMP_WAIT_POLICY=PASSIVE`` (libgomp
   and Intel) and ``KMP_BLOCKTIME=0`` (Intel) make idle threads sleep at once. The OpenMP runtime
   reads them once, when it is loaded (``import torch``), so :func:`set_env_defaults` runs in the
   CLI entry point before anything imports torch; library users set them themselves (documented
   in docs/performance.md). A value the user set is never overridden.
3. **Decode/face work oversubscribing the model.** The runner's prefetch thread decodes and crops
   the next video while the model scores the current one, and the model already uses every
   available CPU. :func:`configure` gives OpenCV one thread per process for that reason, and
   :func:`limit_this_thread` gives torch work on the prefetch thread (MTCNN/RetinaFace croppers)
   one OpenMP thread without touching the model thread's count.

``DFBENCH_THREADS=N`` overrides the detected count (e.g. to leave cores to a competing job).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# What the CLI puts in the environment before torch loads (only where the user has not set it).
WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
CGROUP_ROOT = Path("/sys/fs/cgroup")

_configured: dict[str, Any] | None = None


def affinity_cpus() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where unsupported)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _own_cgroup_paths(proc_cgroup: Path) -> dict[str, str]:
    """``{controller: path}`` from ``/proc/self/cgroup`` (``""`` is the cgroup v2 unified entry)."""
    out: dict[str, str] = {}
    try:
        text = proc_cgroup.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def _candidates(root: Path, rel: str) -> list[Path]:
    """The process's own cgroup directory and its ancestors (a limit may sit on any of them)."""
    rel = rel.strip("/")
    parts = rel.split("/") if rel else []
    dirs = [root.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [d for d in dirs if d.is_dir()]


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``1.5`` for ``--cpus 1.5``), or None.

    cgroup v2: ``cpu.max`` holds ``"<quota> <period>"`` or ``"max <period>"``. cgroup v1:
    ``cpu.cfs_quota_us`` (``-1`` = none) over ``cpu.cfs_period_us``. The smallest limit on the
    path from the process's cgroup up to the root wins, as the kernel enforces it.
    """
    paths = _own_cgroup_paths(proc_cgroup)
    limits: list[float] = []
    if "" in paths:
        # Pure v2 mounts the hierarchy at the root; hybrid systems mount it under "unified".
        base = root if (root / "cgroup.controllers").exists() else root / "unified"
        for d in _candidates(base, paths[""]) if base.is_dir() else []:
            try:
                quota, period = (d / "cpu.max").read_text().split()[:2]
                if quota != "max" and float(period) > 0:
                    limits.append(float(quota) / float(period))
            except (OSError, ValueError):
                continue
    if "cpu" in paths:
        for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            base = root / name
            if not base.is_dir():
                continue
            for d in _candidates(base, paths["cpu"]):
                try:
                    quota = int((d / "cpu.cfs_quota_us").read_text().strip())
                    period = int((d / "cpu.cfs_period_us").read_text().strip())
                except (OSError, ValueError):
                    continue
                if quota > 0 and period > 0:
                    limits.append(quota / period)
            break
    return min(limits) if limits else None


def available_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """CPUs this process can really use: affinity mask, capped by the cgroup quota (rounded up)."""
    n = affinity_cpus()
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return max(1, n)


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        v = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of threads; unset it or give e.g. {name}=2") from None
    if v < 1:
        raise ValueError(f"{name}={raw!r} must be at least 1")
    return v


def model_threads() -> int:
    """Threads for the model: ``DFBENCH_THREADS``, else the CPUs available to the process."""
    return _env_int("DFBENCH_THREADS") or available_cpus()


def set_env_defaults(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Put the waiting policy and thread counts into the environment before torch is imported.

    Returns what was set. Values already present (the user's) are left alone. Must run before the
    OpenMP runtime loads; later it has no effect (the runtime has read its environment).
    """
    env = os.environ if environ is None else environ
    wanted = dict(WAIT_ENV)
    try:
        n = str(model_threads())
    except ValueError:
        n = None  # reported properly by configure(); do not fail before the CLI can print it
    if n is not None:
        wanted.update({k: n for k in THREAD_ENV})
    done = {}
    for k, v in wanted.items():
        if k not in env:
            env[k] = v
            done[k] = v
    return done


def _openmp_runtime() -> Any:
    """The OpenMP runtime torch loaded in this process, or None.

    Found in ``/proc/self/maps`` so that only a runtime already in use is called, and torch's own
    preferred: other wheels (scikit-learn, OpenCV, ...) bundle their own libgomp copies, and
    setting the thread count of one of those would change nothing for torch.
    """
    try:
        import torch

        maps = Path("/proc/self/maps").read_text()
    except (ImportError, OSError):
        return None
    torch_dir = str(Path(torch.__file__).resolve().parent.parent)
    libs = []
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        name = path.rsplit("/", 1)[-1]
        if name.startswith(("libgomp", "libiomp5", "libomp")) and ".so" in name and path not in libs:
            libs.append(path)
    # torch's copy first (site-packages/torch/lib or torch.libs); otherwise a system runtime.
    libs.sort(key=lambda p: (not (p.startswith(torch_dir) and "/torch" in p[len(torch_dir):]), p))
    for path in libs:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def configure(threads: int | None = None) -> dict[str, Any]:
    """Apply thread counts to torch (intra-op, inter-op) and OpenCV at the start of a run.

    Returns the settings for the run's environment record. Inter-op threads can only be set once
    per process, before any inter-op work; a later call keeps the first value and says so.
    """
    global _configured
    import torch

    # An explicit DFBENCH_THREADS wins; otherwise never more than the CPUs we may use, and never
    # more than a library caller already chose with torch.set_num_threads.
    n = threads or _env_int("DFBENCH_THREADS") or min(torch.get_num_threads(), available_cpus())
    torch.set_num_threads(n)
    # Read back on this thread: it also fixes the thread's lazily initialised OpenMP count now,
    # so that a later torch.set_num_threads on another thread cannot change it.
    intra = torch.get_num_threads()
    try:
        torch.set_num_interop_threads(1)  # dfbench runs no inter-op parallel work
    except RuntimeError:
        pass  # already set (or inter-op work started): keep what is there
    cv2_threads = None
    try:
        import cv2

        # Decode and face cropping run beside the model (prefetch thread), which already uses
        # every available CPU; OpenCV's own pool would oversubscribe them.
        cv2.setNumThreads(1)
        cv2_threads = cv2.getNumThreads()
    except ImportError:  # pragma: no cover - cv2 is a core dependency
        pass
    _configured = {
        "available_cpus": available_cpus(),
        "affinity_cpus": affinity_cpus(),
        "cgroup_cpu_limit": cgroup_cpu_limit(),
        "torch_intra_op": intra,
        "torch_inter_op": torch.get_num_interop_threads(),
        "opencv": cv2_threads,
        "worker_threads": 1,
        "env": {k: os.environ.get(k) for k in (*WAIT_ENV, *THREAD_ENV, "DFBENCH_THREADS")},
    }
    return dict(_configured)


def limit_this_thread(n: int = 1) -> bool:
    """Give torch work on the calling (worker) thread ``n`` OpenMP threads; the model's stay.

    ``torch.set_num_threads`` would also change a process-wide default that other threads pick up
    on their first parallel call, so the OpenMP runtime's per-thread setting is used directly.
    Returns False where no OpenMP runtime is loaded (nothing changed).
    """
    try:
        import torch

        torch.get_num_threads()  # torch's lazy per-thread init first, so it cannot undo ours
    except ImportError:  # pragma: no cover
        return False
    lib = _openmp_runtime()
    if lib is None or not hasattr(lib, "omp_set_num_threads"):
        return False
    lib.omp_set_num_threads(int(n))
    return True


def report() -> dict[str, Any]:
    """The thread settings in force (for ``results.json``'s ``env``)."""
    import torch

    base = dict(_configured) if _configured else {"available_cpus": available_cpus(), "configured": False}
    base["torch_intra_op"] = torch.get_num_threads()
    base["env"] = {k: os.environ.get(k) for k in (*WAIT_ENV, *THREAD_ENV, "DFBENCH_THREADS")}
    return base
