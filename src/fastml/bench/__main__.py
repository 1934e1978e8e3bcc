"""python -m fastml.bench: time fastml against scikit-learn and the other peers, print the table."""
import argparse

from . import _runner
from .workloads import groups


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastml.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small problem sizes, fewer repeats")
    parser.add_argument("--only", action="append", choices=groups(), metavar="GROUP",
                        help=f"run only this group (repeatable): {', '.join(groups())}")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per side")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the speed-ups (matplotlib)")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    info = _runner.machine_info()
    print(f"fastml {info['fastml']} on {info['cpus']} cores, {info['openmp_threads']} OpenMP "
          f"threads, {info['simd']} kernels; peers run with their default settings; "
          "times are medians")
    rows = _runner.run(quick=args.quick, only=args.only, repeat=args.repeat)
    print(_runner.format_table(rows))
    missing = _runner.format_missing_peers(_runner.missing_peers(args.only))
    if missing:
        print(missing)
    if args.json:
        _runner.write_json(rows, args.json)
    if args.plot:
        _runner.write_plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
