"""``isegan audit``: check the audit log's chain, find a case's records, export them."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from isegan.cli.images import InputError
from isegan.provenance.audit import find_records, verify_audit_log


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

    find = actions.add_parser(
        "find",
        help="list the records of a case, or the one a watermark names",
        description="Prints one JSON record per line. --record takes the number `isegan "
        "verify` read from a watermark (it is kept modulo 2**20, so several may match). "
        "Exit status 1 when nothing matches.",
    )
    find.add_argument("log", type=Path, help="audit log (JSONL)")
    find.add_argument("--case", dest="case_id", help="case_id given with the requests")
    find.add_argument("--record", type=int, help="watermark record number")
    find.set_defaults(run=run_find)

    export = actions.add_parser(
        "export",
        help="write what an examiner hands on for one case",
        description="Writes to OUT: records.jsonl (the case's records), chain-report.json "
        "(the verification of the log's chain up to the last of them), model.json (the id "
        "of each model used and of the bundled one) and, for the bundled model, its model "
        "card as the package ships it (model-card.json, model-card.md).",
    )
    export.add_argument("log", type=Path, help="audit log (JSONL)")
    export.add_argument("--case", dest="case_id", required=True, help="case_id to export")
    export.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    export.set_defaults(run=run_export)


def _log(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def run_verify(args: argparse.Namespace) -> int:
    report = verify_audit_log(_log(args.log))
    if report.ok:
        print(f"{args.log}: OK, {report.records} records, chain intact")
        return 0
    print(
        f"{args.log}: BROKEN at line {report.first_broken_line}: {report.reason} "
        f"({report.records} records before it verify)"
    )
    return 1


def run_find(args: argparse.Namespace) -> int:
    if args.case_id is None and args.record is None:
        raise InputError("give --case, --record or both")
    found = find_records(_log(args.log), case_id=args.case_id, record=args.record)
    for record in found:
        print(json.dumps(record, sort_keys=True))
    return 0 if found else 1


def run_export(args: argparse.Namespace) -> int:
    from isegan.model.weights.pretrained import default_generator_path

    log = _log(args.log)
    records = find_records(log, case_id=args.case_id)
    if not records:
        raise InputError(f"{log}: no records of case {args.case_id!r}")
    report = verify_audit_log(log)
    last_seq = max(int(r["seq"]) for r in records)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.jsonl").write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    )
    chain: dict[str, Any] = {
        "log": str(log),
        "case_id": args.case_id,
        "records": len(records),
        "last_seq": last_seq,
        "chain_intact_through_last_record": report.ok or report.records >= last_seq,
        "log_records_verified": report.records,
        "log_first_broken_line": report.first_broken_line,
        "log_break_reason": report.reason,
    }
    (out / "chain-report.json").write_text(json.dumps(chain, indent=2) + "\n")
    models = sorted({r.get("model_id", "") for r in records} - {""})
    bundled = default_generator_path()
    identity: dict[str, Any] = {"model_ids": models, "bundled_model_id": None}
    if bundled is not None:
        from isegan.model.stamps import file_sha256

        identity["bundled_model_id"] = file_sha256(bundled)
        # the bundled model's card as the package ships it: its record and its report
        for name, target in (("generator.json", "model-card.json"),
                             ("generator-report.md", "model-card.md")):  # fmt: skip
            if bundled.with_name(name).is_file():
                shutil.copyfile(bundled.with_name(name), out / target)
    (out / "model.json").write_text(json.dumps(identity, indent=2) + "\n")
    intact = "intact" if chain["chain_intact_through_last_record"] else "BROKEN"
    print(f"wrote {len(records)} record(s) of case {args.case_id} to {out} (chain {intact})")
    return 0 if chain["chain_intact_through_last_record"] else 1
