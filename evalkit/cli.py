"""Command line: parse options and hand over to one Python function per command."""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from .errors import EvalkitError


def _validate(args):
    from .validate import validate

    return validate(args.config, out=sys.stdout)


def _report(args):
    from .runner import report

    manifest = report(args.config, out_dir=args.out, force=args.force, jobs=args.jobs,
                      notebooks=not args.no_notebooks, notebook_dir=args.notebook_dir, progress=sys.stderr.isatty(),
                      note=lambda text: print(f"evalkit: note: {text}", file=sys.stderr))
    for warning in manifest.get("instrument_warnings", ()):
        print(f"evalkit: check the questionnaire: {warning}", file=sys.stderr)
    print(f"Report of '{manifest['cohort']}' written to {args.out} in {manifest['seconds']:.1f} s"
          + (f"; open {args.out}/index.html" if not args.no_notebooks else ""))
    return 0


def _batch(args):
    from .batch import batch

    table = batch(args.configs, out_dir=args.out, jobs=args.jobs, shard_spec=args.shard, force=args.force,
                  note=lambda text: print(f"evalkit: note: {text}", file=sys.stderr), notebook_dir=args.notebook_dir,
                  hartung_knapp=args.hartung_knapp)
    failed = table[table["status"] != "ok"]
    for _, row in failed.iterrows():
        print(f"evalkit: cohort {row['cohort']} failed (exit {row['exit_code']}): {row['error']}", file=sys.stderr)
    print(f"{len(table) - len(failed)} of {len(table)} cohorts reported; index: {args.out}/index.html")
    return 1 if len(failed) else 0


def _share(args):
    from .report.share import share

    done = share(args.dir, to=args.to)
    print(f"Checked {len(done['files'])} pages (no identifiers, no small count below {done['min_cell']} shown or "
          f"recoverable); shareable zip written to {done['zip']}")
    return 0


def _plan(args):
    from .report.plan import plan

    for line in plan(args.design, effect=args.effect, n=args.n, icc=args.icc, group_size=args.group_size,
                     attrition=args.attrition, power=args.power, alpha=args.alpha):
        print(line)
    return 0


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
    p.add_argument("--force", action="store_true",
                   help="replace a folder holding another cohort's report or other files (all of it is deleted)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="notebooks run in parallel (default: cores)")
    p.add_argument("--no-notebooks", action="store_true", help="write results/ only, skip notebooks and HTML")
    p.add_argument("--notebook-dir", default=None, help="run your own copies of the report notebooks")
    p.set_defaults(func=_report)
    p = sub.add_parser("batch", help="report many cohorts in parallel; a failing cohort does not stop the others")
    p.add_argument("configs", nargs="+", help="cohort configs (YAML)")
    p.add_argument("--out", required=True, help="output folder: one sub-folder per cohort and index.html")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="warm kernels running notebooks at once (default: cores)")
    p.add_argument("--shard", default=None, help="i/n: run only every n-th cohort from the i-th (CI matrix)")
    p.add_argument("--force", action="store_true", help="overwrite folders holding other cohorts' reports")
    p.add_argument("--notebook-dir", default=None, help="run your own copies of the report notebooks")
    p.add_argument("--hartung-knapp", action="store_true",
                   help="pool across cohorts with the Hartung-Knapp interval (wider, safer with few cohorts)")
    p.set_defaults(func=_batch)
    p = sub.add_parser("share", help="check a report folder and zip only its shareable pages (what goes to a commissioner)")
    p.add_argument("dir", help="report folder (evalkit report --out)")
    p.add_argument("--to", default=None, help="zip to write (default: DIR-share.zip beside DIR)")
    p.set_defaults(func=_share)
    p = sub.add_parser("plan", help="children to recruit before funding (or the smallest effect N children can detect)")
    p.add_argument("--design", required=True,
                   help="paired (one group measured before and after) or comparison (two equal groups)")
    p.add_argument("--effect", type=float, default=None, help="standardised effect to detect, above 0 (e.g. 0.3)")
    p.add_argument("--n", type=int, default=None,
                   help="children recruited (both groups together): print the minimum detectable effect instead")
    p.add_argument("--icc", type=float, default=0.0, help="intra-class correlation of children in groups (default 0)")
    p.add_argument("--group-size", type=float, default=1, help="children per delivery group (default 1: no groups)")
    p.add_argument("--attrition", type=float, default=0.0,
                   help="share of recruited children lost before the end, 0 to <1 (default 0)")
    p.add_argument("--power", type=float, default=0.8, help="chance of detecting the effect (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    p.set_defaults(func=_plan)
    return parser


def _version():
    from . import __version__

    return __version__


def main(argv=None):
    """Entry point of the ``evalkit`` command; returns the exit code.

    User-caused problems print one message (no traceback) and exit 2; a failed
    notebook exits 1. Output cut short by a closed pipe (``evalkit validate c.yml
    | head``) exits quietly with 141, as a shell reports a command stopped by
    SIGPIPE. Anything else is a bug: one line on the screen and exit 1, the
    traceback in a log file (see :func:`_error_log`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as exc:  # a bug: never a traceback on the screen
        log = _error_log(args, exc, argv)
        print(f"evalkit: internal error ({exc.__class__.__name__}): please report it; "
              f"details in {log}", file=sys.stderr)
        return 1


def run():
    """The ``evalkit`` command and ``python -m evalkit``: :func:`main`, then exit without tearing down.

    When :func:`main` returns, every file is written and closed and the report's kernels are stopped;
    what is left is the interpreter freeing every module and object of the analysis one by one
    (about half a second after a report). Standard output and error are flushed, then the process
    exits at once with :func:`main`'s code.
    """
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _broken_pipe()
    except (OSError, ValueError):  # stdout closed or gone: nothing more can be said there
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _broken_pipe():
    """Python's recipe for a reader that went away (docs of :mod:`signal`, "Note on SIGPIPE"): send
    what is left of standard output to devnull so the flush at exit raises nothing; exit 128 + SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # stdout is not a file (tests)
        pass
    return 141


def _error_log(args, exc, argv=()):
    """Append the traceback of an unexpected error to a log file and return its path.

    ``evalkit report`` and ``batch`` log into ``--out``'s parent folder (``evalkit-error.log`` beside the
    report, never in it: the report folder is for sharing, and a traceback may quote data); every other
    command, or when that folder cannot be written, a new file in the system's temporary folder
    (``evalkit-error-*.log``, readable by its owner only).
    """
    import datetime as dt
    import tempfile
    import traceback

    text = (f"{dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} evalkit {_version()} "
            f"{' '.join(map(str, argv)) or args.command}\n" + "".join(traceback.format_exception(exc)) + "\n")
    out = getattr(args, "out", None)
    if out:
        path = Path(out).expanduser().absolute().parent / "evalkit-error.log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            pass
    try:
        fd, name = tempfile.mkstemp(prefix="evalkit-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return name
    except OSError:
        return "(no log could be written)"


if __name__ == "__main__":  # pragma: no cover
    run()
