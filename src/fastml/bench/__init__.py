"""Benchmarks of fastml against its peers; run them with ``python -m fastml.bench``."""
from ._runner import format_table, run
from .workloads import Workload, all_workloads

__all__ = ["Workload", "all_workloads", "format_table", "run"]
