"""Times every workload, fastml and its peer alternately, and prints the speed-up table."""
import json
import platform
import sys
import time

import numpy as np

from .. import __version__, _backend
from ..utils._progress import progress_bar
from .workloads import OPT_IN_GROUPS, all_workloads, missing_peers


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
    n = workload.size(quick)
    data = workload.setup(n)
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
    target = workload.target_at(n)
    return {
        "group": workload.group,
        "workload": workload.label(quick),
        "peer": workload.peer_name,
        "fastml_s": fast,
        "peer_s": peer,
        "speedup": speedup,
        "target": target,
        "meets_target": None if target is None else bool(speedup >= target),
        # a target set for other sizes only, which this row does not check
        "target_elsewhere": target is None and workload.target is not None,
        "parity": parity,
        "parity_label": workload.parity_label,
        "parity_ok": bool(parity <= workload.tolerance),
    }


def run(quick=False, only=None, repeat=None, progress=True):
    """Run the selected workloads (`only`: their groups; None: every group but the opt-in
    ones) and return their rows."""
    workloads = [w for w in all_workloads()
                 if (w.group not in OPT_IN_GROUPS if only is None else w.group in only)]
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
    """The results as a text table; a row shows its target (and ok or MISSED) only at a size
    the target was set for, and a note under the table counts the targets left unchecked."""
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
    unchecked = sum(bool(row.get("target_elsewhere")) for row in rows)
    if unchecked:
        out.append(f"{unchecked} target{'s' if unchecked > 1 else ''} set for other problem "
                   "sizes (the full ones: run without --quick) not checked here")
    return "\n".join(out)


def format_missing_peers(missing):
    """Lines naming the peers that are not installed, whose workloads were left out, with the
    command that installs each; empty when none is missing. `missing`: (peer, groups, command)
    as workloads.missing_peers() gives them."""
    if not missing:
        return ""
    lines = ["Skipped, peer not installed:"]
    for name, groups, command in missing:
        lines.append(f"  {name} ({', '.join(groups)} workloads): {command}")
    return "\n".join(lines)


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
