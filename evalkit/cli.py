"""Command line: parse options and hand over to one Python function per command."""
from __future__ import annotations

import argparse
import sys

from .errors import EvalkitError


def _validate(args):
    from .validate import validate

    return validate(args.config, out=sys.stdout)


def _report(args):
    from .runner import report

    manifest = report(args.config, out_dir=args.out, force=args.force, jobs=args.jobs,
                      notebooks=not args.no_notebooks, notebook_dir=args.notebook_dir, progress=sys.stderr.isatty())
    print(f"Report of '{manifest['cohort']}' written to {args.out} in {manifest['seconds']:.1f} s"
          + (f"; open {args.out}/index.html" if not args.no_notebooks else ""))
    return 0


def _batch(args):
    from .batch import batch

    table = batch(args.configs, out_dir=args.out, jobs=args.jobs, shard_spec=args.shard, force=args.force)
    failed = table[table["status"] != "ok"]
    for _, row in failed.iterrows():
        print(f"evalkit: cohort {row['cohort']} failed (exit {row['exit_code']}): {row['error']}", file=sys.stderr)
    print(f"{len(table) - len(failed)} of {len(table)} cohorts reported; index: {args.out}/index.html")
    return 1 if len(failed) else 0


def build_parser():
    """The ``evalkit`` argument parser (``evalkit --help``)."""
    parser = argparse.ArgumentParser(
        prog="evalkit", description="Clean questionnaire exports, test outcomes and write evaluation reports.")
    parser.add_argument("--version", action="version", version=f"evalkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a cohort's data; print the cleaning summary and every problem")
    p.add_argument("config", help="cohort config (YAML)")
    p.set_defaults(func=_validate)
    p = sub.add_parser("report", help="clean, analyse and write the results (and reports) of one cohort")
    p.add_argument("config", help="cohort config (YAML)")
    p.add_argument("--out", required=True, help="output folder (results/, notebooks/, HTML)")
    p.add_argument("--force", action="store_true", help="overwrite a folder that holds another cohort's report")
    p.add_argument("-j", "--jobs", type=int, default=None, help="notebooks run in parallel (default: cores)")
    p.add_argument("--no-notebooks", action="store_true", help="write results/ only, skip notebooks and HTML")
    p.add_argument("--notebook-dir", default=None, help="run your own copies of the report notebooks")
    p.set_defaults(func=_report)
    p = sub.add_parser("batch", help="report many cohorts in parallel; a failing cohort does not stop the others")
    p.add_argument("configs", nargs="+", help="cohort configs (YAML)")
    p.add_argument("--out", required=True, help="output folder: one sub-folder per cohort and index.html")
    p.add_argument("-j", "--jobs", type=int, default=None, help="cohorts at once (default: cores)")
    p.add_argument("--shard", default=None, help="i/n: run only every n-th cohort from the i-th (CI matrix)")
    p.add_argument("--force", action="store_true", help="overwrite folders holding other cohorts' reports")
    p.set_defaults(func=_batch)
    return parser


def _version():
    from . import __version__

    return __version__


def main(argv=None):
    """Entry point of the ``evalkit`` command; returns the exit code.

    User-caused problems print one message (no traceback) and exit 2; a failed
    notebook exits 1.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
