"""``isegan audit verify LOG``: check the audit log's hash chain."""

from __future__ import annotations

import argparse
from pathlib import Path

from isegan.cli.images import InputError
from isegan.provenance.audit import verify_audit_log


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="work with the service's audit log")
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check that no record was changed, removed or reordered",
        description="Exit status 0 when the whole chain holds, 1 at the first broken record "
        "(its line number and why are printed).",
    )
    verify.add_argument("log", type=Path, help="audit log (JSONL)")
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    if not args.log.is_file():
        raise InputError(f"{args.log}: no such file")
    report = verify_audit_log(args.log)
    if report.ok:
        print(f"{args.log}: OK, {report.records} records, chain intact")
        return 0
    print(
        f"{args.log}: BROKEN at line {report.first_broken_line}: {report.reason} "
        f"({report.records} records before it verify)"
    )
    return 1
