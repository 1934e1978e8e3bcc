"""Times every workload, fastml and its peer alternately, and prints the speed-up table."""
import json
import platform
import sys
import time

import numpy as np

from .. import __version__, _backend
from ..utils._progress import progress_bar
from .workloads import all_workloads


# Timed seconds a workload may take before its repeat count is cut.
_SECONDS_PER_WORKLOAD = 60.0
# Pause before each timed call. The thread pools of the side that ran last (OpenBLAS's above
# all) keep spinning for a few tens of milliseconds after a call returns, and on a 2-core machine
# that takes a core from the side timed next: fastml's kmeans_plusplus measured 160-200 ms right
# after scikit-learn's and 120-150 ms after a 0.05-0.2 s pause. Both sides get the same pause.
_SETTLE_SECONDS = 0.1


def _time_once(fn, data):
    time.sleep(_SETTLE_SECONDS)
    start = time.perf_counter()
    result = fn(data)
    return time.perf_counter() - start, result


def run_workload(workload, quick, repeat):
    """Warm both sides up once, then time them alternately `repeat` times; return one row."""
    data = workload.setup(workload.size(quick))
    fast_warm, fast_result = _time_once(workload.fastml, data)
    peer_warm, peer_result = _time_once(workload.peer, data)
    parity = workload.parity(fast_result, peer_result)
    del fast_result, peer_result
    # Slow peers (tens of seconds) get fewer timed runs so that a full run stays within minutes.
    repeat = max(1, min(repeat, int(_SECONDS_PER_WORKLOAD / max(fast_warm + peer_warm, 1e-9))))
    fast_times, peer_times = [], []
    for _ in range(repeat):
        fast_times.append(_time_once(workload.fastml, data)[0])
        peer_times.append(_time_once(workload.peer, data)[0])
    fast, peer = float(np.median(fast_times)), float(np.median(peer_times))
    speedup = peer / fast
    return {
        "group": workload.group,
        "workload": workload.label(quick),
        "peer": workload.peer_name,
        "fastml_s": fast,
        "peer_s": peer,
        "speedup": speedup,
        "target": workload.target,
        "meets_target": None if workload.target is None else bool(speedup >= workload.target),
        "parity": parity,
        "parity_label": workload.parity_label,
        "parity_ok": bool(parity <= workload.tolerance),
    }


def run(quick=False, only=None, repeat=None, progress=True):
    """Run the selected workloads and return their rows."""
    workloads = [w for w in all_workloads() if only is None or w.group in only]
    repeat = repeat or (3 if quick else 5)
    rows = []
    for i, workload in enumerate(workloads):
        if progress:
            progress_bar(i, len(workloads), workload.label(quick))
        rows.append(run_workload(workload, quick, repeat))
    if progress:
        progress_bar(len(workloads), len(workloads), "done")
    return rows


def format_table(rows):
    header = ["workload", "fastml", "peer", "peer time", "speed-up", "target", "parity"]
    lines = []
    for row in rows:
        target = "" if row["target"] is None else (
            f">={row['target']:g}x " + ("ok" if row["meets_target"] else "MISSED"))
        parity = f"{row['parity_label']} {row['parity']:.1e}" + ("" if row["parity_ok"]
                                                                 else " (DIFFERS)")
        lines.append([row["workload"], f"{row['fastml_s']:.4f} s", row["peer"],
                      f"{row['peer_s']:.4f} s", f"{row['speedup']:.1f}x", target, parity])
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def machine_info():
    return {
        "fastml": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": _backend.available_cpus(),
        "openmp_threads": _backend.openmp_max_threads(),
        "simd": _backend.simd_build(),
    }


def write_json(rows, path):
    with open(path, "w") as f:
        json.dump({"machine": machine_info(), "results": rows}, f, indent=2)


def write_plot(rows, path):
    try:
        import matplotlib
    except ImportError as exc:
        raise SystemExit("--plot needs matplotlib: pip install 'fastml[bench]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [row["workload"] for row in rows][::-1]
    speedups = [row["speedup"] for row in rows][::-1]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.2))
    ax.barh(labels, speedups, color="tab:blue")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the peer (peer time / fastml time)")
    ax.set_title("fastml vs peers, same run")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
