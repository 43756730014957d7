"""The ``docmgmt`` command: serve, migrate, project, admin and storage tasks."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from docmgmt.domain.common import Role
from docmgmt.domain.errors import DomainError
from docmgmt.settings import Settings


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"environment variable {args.password_env} is empty")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("the passwords differ")
    return first


def _with_data_dir(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings with the data folder given on the command line, if any."""
    if getattr(args, "data", None) is None:
        return settings
    return settings.model_copy(update={"data_dir": Path(args.data)})


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate if asked (and make the demo city if asked), then run the API with uvicorn."""
    import uvicorn

    from api.logs import log_config
    from api.main import create_app
    from api.malloc import limit_arenas

    limit_arenas()  # before the server's threads exist; inherited by worker processes
    settings = _with_data_dir(args, settings)
    demo = getattr(args, "demo", False)
    if getattr(args, "data", None) is not None:  # worker processes read the environment
        os.environ["DOCMGMT_DATA_DIR"] = args.data
    if args.migrate or demo:
        cmd_migrate(args, settings)
    if demo:
        from api.demo import DemoRefusedError

        try:
            _make_demo(settings)
        except DemoRefusedError:
            print(f"the data folder {settings.data_dir} already has agencies: serving them "
                  "as they are (no demo data added)", flush=True)
    host, port = args.host or settings.host, args.port or settings.port
    print(f"web application: http://{host}:{port}/   API documentation: "
          f"http://{host}:{port}/docs", flush=True)
    if args.workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    log_config=log_config(), http="httptools", loop="uvloop")
        return 0
    # Several worker processes share the write side; exactly one projection process keeps
    # the read model (workers must not each run one), started and stopped with them.
    env = {**os.environ, "DOCMGMT_RUN_PROJECTIONS": "false"}
    projection = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "project"], env=os.environ.copy())
    try:
        os.environ.update(env)
        uvicorn.run("api.main:create_app", factory=True, host=host, port=port,
                    workers=args.workers, log_level="info", log_config=log_config(),
                    http="httptools", loop="uvloop")
    finally:
        projection.terminate()
        projection.wait(timeout=30)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema (Alembic) and the application role."""
    from docmgmt.kernel import migrations
    from docmgmt.kernel.db import open_database

    db = open_database(settings)
    try:
        migrations.upgrade(db)
        print(f"database at migration {migrations.current_revision(db)}")
    finally:
        db.close()
    return 0


def _make_demo(settings: Settings) -> None:
    from api.demo import account_table, build_demo, status_lines

    result = build_demo(settings, lambda: print(
        "making the demo city (half a minute or so: every document is really signed)...",
        flush=True))
    print(f"demo city made in {result.seconds:.0f} s", flush=True)
    for line in status_lines(result):
        print("  " + line)
    print("\ndemo accounts (shown once; also in "
          f"{result.password_file}, readable only by you):\n")
    print(account_table(result.accounts), flush=True)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Make the demo city in an empty data folder (exit code 2 if it has agencies)."""
    from api.demo import DemoRefusedError

    settings = _with_data_dir(args, settings)
    cmd_migrate(args, settings)
    try:
        _make_demo(settings)
    except DemoRefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_project(args: argparse.Namespace, settings: Settings) -> int:
    """Run the read-model projection as its own process until interrupted."""
    from docmgmt.bootstrap import projection_process

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with projection_process(settings) as runner:
        print("projection running; Ctrl+C to stop", flush=True)
        while not stop.wait(1.0):
            runner.run_forever(timeout=0.01)
    return 0


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run only the dispatch process (deliveries, withdrawals, acknowledgements)."""
    from docmgmt.bootstrap import build_write_side
    from docmgmt.incoming.delivery import start_dispatcher

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    write = build_write_side(settings)
    try:
        with start_dispatcher(write.es_env, write.dispatcher()) as runner:
            print("dispatch process running; Ctrl+C to stop", flush=True)
            while not stop.wait(1.0):
                runner.run_forever(timeout=0.01)
    finally:
        write.close()
    return 0


def cmd_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Administration without the HTTP server (bootstrap, users, agencies)."""
    from docmgmt.bootstrap import build_write_side
    from docmgmt.identity import agencies, users
    from docmgmt.identity.users import SYSTEM, NewUser

    write = build_write_side(settings)
    try:
        ctx, store = write.identity, write.app
        if args.admin_cmd == "create-admin":
            user_id = users.bootstrap_admin(ctx, args.username, _password(args),
                                            args.full_name, args.agency_code, args.agency_name)
            print(json.dumps({"user_id": str(user_id), "username": args.username}))
        elif args.admin_cmd == "create-agency":
            parent = store.find_agency(args.parent).id if args.parent else None
            result = agencies.register_agency(store, SYSTEM, args.code, args.name, parent)
            print(json.dumps({"agency_id": str(result.id)}))
        elif args.admin_cmd == "add-unit":
            agency = store.find_agency(args.agency)
            result = agencies.add_unit(store, SYSTEM, agency.id, args.code, args.name, None)
            print(json.dumps({"agency_id": str(result.id), "version": result.version}))
        elif args.admin_cmd == "create-user":
            agency = store.find_agency(args.agency)
            unit = next((u.id for u in agency.units.values() if u.code == args.unit), None)
            if args.unit and unit is None:
                raise SystemExit(f"unit {args.unit} not found in {agency.code}")
            new = NewUser(username=args.username, full_name=args.full_name,
                          password=_password(args), roles=[Role(r) for r in args.role],
                          agency_id=agency.id, unit_id=unit, title=args.title)
            result = users.create_user(ctx, SYSTEM, new)
            print(json.dumps({"user_id": str(result.id)}))
        elif args.admin_cmd == "set-password":
            user = store.find_user(args.username)
            users.set_password(ctx, SYSTEM, user.id, _password(args))
            print(json.dumps({"user_id": str(user.id), "password": "changed"}))
        elif args.admin_cmd == "reactivate-user":
            user = store.find_user(args.username)
            result = users.reactivate(store, SYSTEM, user.id, args.reason)
            print(json.dumps({"user_id": str(user.id), "version": result.version}))
    finally:
        write.close()
    return 0


def cmd_storage(args: argparse.Namespace, settings: Settings) -> int:
    """Object-store maintenance: find (and with --delete remove) orphaned uploads."""
    from docmgmt.bootstrap import build_write_side
    from docmgmt.kernel.gc import find_orphans

    write = build_write_side(settings)
    try:
        orphans = find_orphans(write.app, write.blobs,
                               timedelta(hours=args.min_age_hours))
        for o in orphans:
            action = "deleted" if args.delete else "would delete"
            if args.delete:
                write.blobs.delete(o.key)
            print(f"{action} {o.key} ({o.size} bytes, {o.last_modified.isoformat()})")
        print(f"{len(orphans)} orphan(s), {sum(o.size for o in orphans)} bytes"
              + ("" if args.delete else " (dry run: add --delete to remove)"))
    finally:
        write.close()
    return 0


def cmd_pki(args: argparse.Namespace, settings: Settings) -> int:
    """Development PKI: root CA, TSA, agency seal keys and per-user leader keys."""
    from signing.devpki import DEV_MARKER, init_dev_pki, issue_user_cert

    if settings.mode.value == "production":
        raise SystemExit("the development PKI is refused in production mode")
    if args.pki_cmd == "init-dev":
        from docmgmt.bootstrap import build_write_side

        write = build_write_side(settings)
        try:
            agencies = [write.app.find_agency(c) for c in args.agency] if args.agency else []
            users = [write.app.find_user(u) for u in args.user]
        finally:
            write.close()
        made = []
        for agency in agencies:
            pki = init_dev_pki(settings.pki_dir / agency.code, agency.code, agency.name)
            made.append({"agency": agency.code, "directory": str(pki.directory),
                         "root": str(pki.root_cert_path)})
        for user in users:
            home = next((a for a in agencies if a.id == user.agency_id), None)
            if home is None:
                raise SystemExit(f"give --agency for {user.username}'s agency too")
            path = issue_user_cert(settings.pki_dir / home.code, user.username, user.full_name)
            made.append({"user": user.username, "key": str(path)})
        print(json.dumps({"note": DEV_MARKER, "created": made}, ensure_ascii=False, indent=2))
    return 0


def cmd_ledger(args: argparse.Namespace, settings: Settings) -> int:
    """Evidence ledger: verify the log, run the worker, checkpoints, proofs."""
    from docmgmt.ledger.commands import run_ledger_command

    return run_ledger_command(args, settings)


def cmd_agent(args: argparse.Namespace, settings: Settings) -> int:
    """Run the local signing agent on the leader's PC until interrupted."""
    from signing.agent.server import HOST, serve

    if args.host != HOST:
        raise SystemExit(f"the agent listens on {HOST} only (asked: {args.host})")
    server = serve(args.origin, args.module, args.token_label, args.port, args.job_minutes)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"docmgmt agent for {server.config.origin} on http://{HOST}:{server.port} "
          f"(token {args.token_label!r}); Ctrl+C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    p = argparse.ArgumentParser(prog="docmgmt", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--migrate", action="store_true", help="migrate the database first")
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes (more than 1 also starts one projection process)")
    s.add_argument("--demo", action="store_true",
                   help="on an empty data folder, make the demo city first (implies --migrate)")
    s.add_argument("--data", metavar="DIR", help="the data folder (default: DOCMGMT_DATA_DIR)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="make a demo city with documents in every state "
                                    "(empty data folder only)")
    d.add_argument("--data", metavar="DIR", help="the data folder (default: DOCMGMT_DATA_DIR)")
    d.set_defaults(func=cmd_demo)

    sub.add_parser("migrate", help="create/upgrade tables, triggers and roles").set_defaults(
        func=cmd_migrate)
    sub.add_parser("project", help="run the read-model projection process").set_defaults(
        func=cmd_project)
    sub.add_parser("dispatch", help="run only the dispatch process").set_defaults(
        func=cmd_dispatch)

    a = sub.add_parser("admin", help="administration from the command line")
    a.set_defaults(func=cmd_admin)
    asub = a.add_subparsers(dest="admin_cmd", required=True)

    def with_password(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--password-env", metavar="VAR",
                            help="read the password from this environment variable "
                                 "(else from stdin / a prompt)")

    x = asub.add_parser("create-admin", help="first admin and the root agency")
    x.add_argument("username")
    x.add_argument("--full-name", default="Quản trị viên")
    x.add_argument("--agency-code", default="ADMIN")
    x.add_argument("--agency-name", default="Trung tâm quản trị hệ thống")
    with_password(x)
    x = asub.add_parser("create-agency")
    x.add_argument("code")
    x.add_argument("name")
    x.add_argument("--parent", help="parent agency code")
    x = asub.add_parser("add-unit")
    x.add_argument("agency", help="agency code")
    x.add_argument("code")
    x.add_argument("name")
    x = asub.add_parser("create-user")
    x.add_argument("username")
    x.add_argument("--full-name", required=True)
    x.add_argument("--agency", required=True, help="agency code")
    x.add_argument("--unit", help="unit code")
    x.add_argument("--role", action="append", required=True,
                   choices=[r.value for r in Role])
    x.add_argument("--title", default="")
    with_password(x)
    x = asub.add_parser("set-password")
    x.add_argument("username")
    with_password(x)
    x = asub.add_parser("reactivate-user", help="enable a disabled account again")
    x.add_argument("username")
    x.add_argument("--reason", required=True, help="why, recorded in the event")

    k = sub.add_parser("pki", help="development PKI (never for production)")
    k.set_defaults(func=cmd_pki)
    ksub = k.add_subparsers(dest="pki_cmd", required=True)
    x = ksub.add_parser("init-dev", help="root CA, TSA and seal key per agency; leader keys")
    x.add_argument("--agency", action="append", default=[], help="agency code (repeatable)")
    x.add_argument("--user", action="append", default=[], help="username (repeatable)")

    ag = sub.add_parser("agent", help="the local signing agent for a leader's token "
                                      "(run on the leader's PC)")
    ag.add_argument("--origin", required=True,
                    help="the docmgmt site allowed to ask for signatures, e.g. "
                         "https://docmgmt.example.gov.vn")
    ag.add_argument("--module", required=True,
                    help="the token's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so")
    ag.add_argument("--token-label", required=True, help="the token's label")
    ag.add_argument("--port", type=int, default=47300)
    ag.add_argument("--host", default="127.0.0.1", help="127.0.0.1 only (anything else is "
                                                        "refused)")
    ag.add_argument("--job-minutes", type=float, default=5.0,
                    help="minutes a signing request waits for the PIN")
    ag.set_defaults(func=cmd_agent)

    st = sub.add_parser("storage", help="object storage maintenance")
    ssub = st.add_subparsers(dest="storage_cmd", required=True)
    g = ssub.add_parser("gc", help="find orphaned uploads (dry run unless --delete)")
    g.add_argument("--delete", action="store_true")
    g.add_argument("--min-age-hours", type=float, default=24.0)
    g.set_defaults(func=cmd_storage)

    from api.devtoken_cli import add_dev_token_command
    add_dev_token_command(sub)
    from docmgmt.ledger.commands import add_ledger_commands
    add_ledger_commands(sub, cmd_ledger)
    from docmgmt.ledger.bundle_verify import add_bundle_commands
    add_bundle_commands(sub)
    from api.replay_cli import cmd_replay
    from docmgmt.audit.replay import add_replay_commands
    add_replay_commands(sub, cmd_replay)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``docmgmt`` console script."""
    from api.logs import configure

    configure()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        return int(args.func(args, settings))
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return 2
    except Exception as exc:
        from docmgmt.kernel.migrations import DatabaseNotMigratedError
        if isinstance(exc, DatabaseNotMigratedError | ValueError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
