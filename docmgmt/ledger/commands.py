"""Command-line actions for the ledger: ``docmgmt verify`` and ``docmgmt ledger ...``."""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docmgmt.kernel.db import Database, open_database
from docmgmt.ledger.bundle_verify import add_trust_arguments, load_certificate_files
from docmgmt.settings import Mode, Settings

Command = Callable[[argparse.Namespace, Settings], int]


def add_ledger_commands(sub: Any, func: Command) -> None:
    """Register ``verify`` and ``ledger`` on the top-level subparsers, both run by ``func``."""
    v = sub.add_parser(
        "verify", help="recompute the Merkle log from the events and compare",
        description="Recompute the Merkle log from the events, check every stored checkpoint "
                    "and compare. Pass --trust-root to also check that the checkpoints were "
                    "signed and timestamped by certificates of a trusted root; for the "
                    "development setup: `docmgmt ledger dev-root --out dev-root.pem`, then "
                    "`docmgmt verify --trust-root dev-root.pem`.")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--workers", type=int, metavar="N",
                   help="threads hashing alongside the main one, each with its own "
                        "connection (default: one per core beyond the first, for logs of "
                        "16,384 events or more; 0: the main thread only)")
    add_trust_arguments(v)
    v.set_defaults(func=func, ledger_cmd="verify")
    led = sub.add_parser("ledger", help="evidence ledger: worker, checkpoints, proofs")
    led.set_defaults(func=func)
    lsub = led.add_subparsers(dest="ledger_cmd", required=True)
    x = lsub.add_parser("run", help="run the ledger worker (and checkpoints) until stopped")
    x.add_argument("--every-events", type=int, default=1000)
    x.add_argument("--every-seconds", type=float, default=300.0)
    x.add_argument("--no-checkpoints", action="store_true")
    lsub.add_parser("checkpoint", help="sign and timestamp a checkpoint of the ledger now")
    x = lsub.add_parser(
        "dev-root", help="print the development root CA that checkpoints chain to (PEM)",
        description="Print the development PKI's root CA certificate (PEM), the trust root "
                    "of the development system key and TSA that sign and timestamp ledger "
                    "checkpoints; its path goes to stderr. Pass it to `docmgmt verify "
                    "--trust-root` or `docmgmt verify-bundle --trust-root`. Made on first "
                    "use; refused in production and when the keys file names a system key.")
    x.add_argument("--out", type=Path, metavar="FILE", help="write the PEM to FILE instead")
    x = lsub.add_parser("checkpoints", help="list the signed checkpoints, oldest first (JSON)")
    x.add_argument("--after", type=int, default=0, metavar="TREE_SIZE",
                   help="start after this tree size (next_after of the previous page)")
    x.add_argument("--limit", type=int, default=100)
    x.add_argument("--all", action="store_true", help="every page, as one list")
    x = lsub.add_parser("prove-inclusion", help="audit path of one event (JSON)")
    x.add_argument("position", type=int, help="the event's notification id")
    x.add_argument("--tree-size", type=int, required=True)
    x = lsub.add_parser("prove-consistency", help="consistency proof between sizes (JSON)")
    x.add_argument("first", type=int)
    x.add_argument("second", type=int)


def _print_checkpoints(conninfo: str, args: argparse.Namespace) -> int:
    """Print one page of checkpoints, or with --all every page as one list."""
    from docmgmt.ledger.proofs import ProofRequestError, list_checkpoints

    try:
        page = list_checkpoints(conninfo, args.after, args.limit)
        if args.all:
            every = page["checkpoints"]
            while page["next_after"] is not None:
                page = list_checkpoints(conninfo, page["next_after"], args.limit)
                every += page["checkpoints"]
            page = {"checkpoints": every, "next_after": None}
    except ProofRequestError as exc:
        raise SystemExit(f"docmgmt ledger checkpoints: {exc}") from None
    print(json.dumps(page, indent=2))
    return 0


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    from docmgmt.kernel.migrations import require_migrated

    db = open_database(settings)
    try:
        require_migrated(db)
        yield db
    finally:
        db.close()


def _system_keys(settings: Settings) -> Any:
    from docmgmt.ledger.systemkeys import system_note_keys

    keys = system_note_keys(settings)
    if keys is None:
        raise SystemExit("ledger checkpoints need a system key: name one under \"system\" in "
                         "the keys file (the development key is refused in production)")
    return keys


def dev_root_path(settings: Settings) -> Path:
    """The development root CA (PEM) of the ledger's system key, made on first use."""
    from docmgmt.ledger.devkeys import SYSTEM_CODE, SYSTEM_NAME
    from signing.devpki import init_dev_pki

    if settings.mode is Mode.PRODUCTION:
        raise SystemExit("the development PKI is refused in production mode; pass the root CA "
                         "that issued the system key's certificate to --trust-root")
    if settings.keys_file is not None:
        raise SystemExit("checkpoints are signed with the keys file's system key, not the "
                         "development one; pass the root CA that issued its certificate")
    return init_dev_pki(settings.pki_dir / SYSTEM_CODE, SYSTEM_CODE, SYSTEM_NAME).root_cert_path


def _dev_root(args: argparse.Namespace, settings: Settings) -> int:
    path = dev_root_path(settings)
    pem = path.read_bytes()
    if args.out is not None:
        args.out.write_bytes(pem)
        print(f"wrote {args.out} (copy of {path}); verify with --trust-root {args.out}",
              file=sys.stderr)
    else:
        print(f"# {path}", file=sys.stderr)
        sys.stdout.write(pem.decode("ascii"))
    return 0


def run_ledger_command(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch one ledger command; the exit code."""
    if args.ledger_cmd == "dev-root":
        return _dev_root(args, settings)
    roots: list[Any] = []
    intermediates: list[Any] = []
    if args.ledger_cmd == "verify":
        try:
            roots = load_certificate_files(args.trust_root)
            intermediates = load_certificate_files(args.intermediate)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    with _database(settings) as db:
        conninfo = db.app.conninfo()
        if args.ledger_cmd == "verify":
            from docmgmt.ledger.bulkhash import ACCELERATED, NOT_ACCELERATED_BECAUSE
            from docmgmt.ledger.verify import verify_log

            if not ACCELERATED:
                print("note: hashing through hashlib, one call per hash (slower): the"
                      f" compiled module is not in use ({NOT_ACCELERATED_BECAUSE})",
                      file=sys.stderr)
            report = verify_log(conninfo, roots, intermediates, workers=args.workers)
            print(json.dumps(report.as_dict(), indent=2) if args.json else report.summary())
            return 0 if report.ok else 1
        if args.ledger_cmd == "checkpoint":
            from docmgmt.ledger.checkpoint import write_checkpoint
            from docmgmt.ledger.proofs import state_fields

            signer, stamper = _system_keys(settings)
            cp = write_checkpoint(conninfo, signer, stamper)
            print(json.dumps(None if cp is None else {
                "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(),
                "created_at": cp.created_at.isoformat(), "note": cp.note,
                "timestamp_token": base64.b64encode(cp.timestamp_token).decode(),
                **state_fields(*(cp.state or (None, None)))},
                ensure_ascii=False, indent=2))
            return 0
        if args.ledger_cmd == "checkpoints":
            return _print_checkpoints(conninfo, args)
        if args.ledger_cmd == "prove-inclusion":
            from docmgmt.ledger.proofs import prove_inclusion

            print(json.dumps(prove_inclusion(conninfo, args.position, args.tree_size),
                             indent=2))
            return 0
        if args.ledger_cmd == "prove-consistency":
            from docmgmt.ledger.proofs import prove_consistency

            print(json.dumps(prove_consistency(conninfo, args.first, args.second), indent=2))
            return 0
        return _run(db, conninfo, args, settings)


def _run(db: Database, conninfo: str, args: argparse.Namespace, settings: Settings) -> int:
    from docmgmt.ledger.checkpoint import run_checkpointer
    from docmgmt.ledger.worker import start_ledger

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    checkpointer = None
    if not args.no_checkpoints:
        signer, stamper = _system_keys(settings)
        checkpointer = threading.Thread(
            target=run_checkpointer, name="ledger-checkpoints", daemon=True,
            args=(conninfo, signer, stamper),
            kwargs={"every_events": args.every_events, "every_seconds": args.every_seconds,
                    "stop": stop})
        checkpointer.start()
    with start_ledger(db.app.eventsourcing_env("docmgmt", 2)) as runner:
        print("ledger worker running; Ctrl+C to stop", flush=True)
        while not stop.wait(1.0):
            runner.run_forever(timeout=0.01)
    stop.set()
    if checkpointer is not None:
        checkpointer.join(timeout=30)
    return 0
