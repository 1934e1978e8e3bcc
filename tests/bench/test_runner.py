"""The benchmark runner's rows and text: which targets a row checks, the table, the skipped peers.
No timing is asserted: the workloads here are trivial callables."""
import importlib.util

import pytest

from fastml.bench import __main__ as bench_main
from fastml.bench import _runner, workloads
from fastml.bench.workloads import Workload, all_workloads


def _workload(target=15.0, target_sizes=None):
    return Workload(group="g", name="w {n}", sizes=(10, 1000), setup=lambda n: n,
                    fastml=lambda n: n, peer=lambda n: n, peer_name="peer",
                    parity=lambda a, b: abs(a - b), parity_label="|diff|", tolerance=0.0,
                    target=target, target_sizes=target_sizes)


def _row(workload="w", target=None, speedup=2.0, target_elsewhere=False):
    return {"group": "g", "workload": workload, "peer": "peer", "fastml_s": 0.5 / speedup,
            "peer_s": 0.5, "speedup": speedup, "target": target,
            "meets_target": None if target is None else speedup >= target,
            "target_elsewhere": target_elsewhere, "parity": 0.0, "parity_label": "|diff|",
            "parity_ok": True}


def test_a_target_holds_at_the_full_size_unless_told_otherwise():
    w = _workload()
    assert w.target_at(1000) == 15.0
    assert w.target_at(10) is None
    w = _workload(target_sizes=(10, 1000))
    assert w.target_at(10) == w.target_at(1000) == 15.0
    assert _workload(target=None).target_at(1000) is None


@pytest.mark.parametrize("quick", [True, False])
def test_run_workload_checks_the_target_only_where_it_was_set(monkeypatch, quick):
    monkeypatch.setattr(_runner, "_SETTLE_SECONDS", 0.0)
    row = _runner.run_workload(_workload(target=1e-9), quick=quick, repeat=1)
    assert row["workload"] == ("w 10" if quick else "w 1000")
    if quick:
        assert row["target"] is None and row["meets_target"] is None
        assert row["target_elsewhere"]
    else:
        assert row["target"] == 1e-9 and row["meets_target"] is True
        assert not row["target_elsewhere"]


def test_format_table_prints_targets_only_on_rows_that_check_one():
    rows = [_row("met", target=1.5, speedup=2.0), _row("missed", target=3.0, speedup=2.0),
            _row("quick", target=None, target_elsewhere=True), _row("none")]
    lines = _runner.format_table(rows).splitlines()
    by_name = {line.split()[0]: line for line in lines[2:] if line.split()}
    assert ">=1.5x ok" in by_name["met"]
    assert ">=3x MISSED" in by_name["missed"]
    for name in ("quick", "none"):
        assert ">=" not in by_name[name] and "MISSED" not in by_name[name]
    assert lines[-1].startswith("1 target set for other problem sizes")


def test_format_table_has_no_note_when_every_target_is_checked():
    text = _runner.format_table([_row("met", target=1.5)])
    assert "not checked" not in text


def test_format_missing_peers_names_the_install_commands():
    assert _runner.format_missing_peers([]) == ""
    text = _runner.format_missing_peers(
        [("faiss-cpu", ("knn", "cluster"), 'pip install "fastml[bench]"'),
         ("PyTorch", ("nn",), "pip install torch==2.13.0")])
    lines = text.splitlines()
    assert lines[0] == "Skipped, peer not installed:"
    assert lines[1] == '  faiss-cpu (knn, cluster workloads): pip install "fastml[bench]"'
    assert lines[2] == "  PyTorch (nn workloads): pip install torch==2.13.0"


def test_missing_peers_follows_what_is_installed_and_the_groups(monkeypatch):
    installed = {"faiss"}
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(workloads.importlib.util, "find_spec",
                        lambda name, *a: (real_find_spec("numpy") if name in installed
                                          else None))
    missing = {name: (groups, command) for name, groups, command in workloads.missing_peers()}
    assert set(missing) == {"implicit", "LightGBM", "scikit-learn-intelex", "PyTorch", "XGBoost",
                            "skglm"}
    assert missing["PyTorch"][1] == "pip install torch==2.13.0"
    assert missing["LightGBM"][1] == 'pip install "fastml[bench]"'
    assert [m[0] for m in workloads.missing_peers(["tree"])] == ["LightGBM",
                                                                  "scikit-learn-intelex"]
    assert [m[0] for m in workloads.missing_peers(["boosting"])] == ["LightGBM", "XGBoost"]
    assert [m[0] for m in workloads.missing_peers(["linear"])] == ["scikit-learn-intelex", "skglm"]
    assert workloads.missing_peers(["knn", "pairwise"]) == []
    with pytest.raises(ValueError):
        workloads.peer_installed("sklearn")


def test_main_lists_the_skipped_peers_under_the_table(monkeypatch, capsys):
    monkeypatch.setattr(_runner, "run", lambda **kwds: [_row("w", target_elsewhere=True)])
    monkeypatch.setattr(_runner, "missing_peers",
                        lambda groups: [("PyTorch", ("nn",), "pip install torch==2.13.0")])
    assert bench_main.main(["--quick", "--only", "pairwise"]) == 0
    out = capsys.readouterr().out
    assert "1 target set for other problem sizes" in out
    assert out.rstrip().endswith("PyTorch (nn workloads): pip install torch==2.13.0")


def test_the_real_workloads_set_targets_at_full_sizes_and_small_calls_at_theirs():
    by_group = {}
    for w in all_workloads():
        by_group.setdefault(w.group, []).append(w)
        if w.target is None:
            continue
        assert w.target_at(w.size(quick=False)) == w.target
        if w.group != "small" and w.size(quick=True) != w.size(quick=False):
            assert w.target_at(w.size(quick=True)) is None, w.name
    assert by_group["small"]
    for w in by_group["small"]:  # a small call is never slower than scikit-learn's
        assert w.target_at(w.size(quick=True)) == 1.0


def test_opt_in_groups_run_only_when_named(monkeypatch):
    monkeypatch.setattr(_runner, "_SETTLE_SECONDS", 0.0)
    plain, opt_in = _workload(), Workload(**{**_workload().__dict__, "group": "dask"})
    monkeypatch.setattr(_runner, "all_workloads", lambda: [plain, opt_in])
    assert "dask" in workloads.OPT_IN_GROUPS
    assert [r["group"] for r in _runner.run(quick=True, repeat=1, progress=False)] == ["g"]
    assert [r["group"] for r in _runner.run(quick=True, only=["dask"], repeat=1,
                                            progress=False)] == ["dask"]
