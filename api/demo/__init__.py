"""The demo city (``docmgmt demo``, ``docmgmt serve --demo``): a People's Committee, one
department and two wards, a person per role in each, and documents in every state, made
by the same steps the API calls, as each role would, on an empty data folder."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from eventsourcing.utils import get_topic

from api.demo import story
from api.demo.city import Account, DemoCity, DemoResult
from docmgmt.bootstrap import build_write_side, start_workers, worker_env
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Role
from docmgmt.incoming.delivery import Dispatcher
from docmgmt.incoming.views import ExchangeViews
from docmgmt.kernel.projections import tracking_view
from docmgmt.kernel.store import DocMgmt
from docmgmt.kernel.supervisor import View
from docmgmt.outgoing.views import ReadModel
from docmgmt.oversight.views import OversightViews
from docmgmt.settings import Settings

__all__ = ["PASSWORD_FILE", "Account", "DemoRefusedError", "DemoResult", "account_table",
           "build_demo", "has_agencies", "status_lines", "write_password_file"]

PASSWORD_FILE = "demo-passwords.txt"  # noqa: S105 - a file name, not a password
ROLE_NAMES = {Role.OFFICIAL: "chuyên viên", Role.LEADER: "lãnh đạo", Role.CLERK: "văn thư",
              Role.ADMIN: "quản trị", Role.AUDITOR: "kiểm tra"}


class DemoRefusedError(Exception):
    """The data folder already holds a system: the demo adds nothing to it."""


def has_agencies(store: DocMgmt) -> bool:
    """Whether any agency was ever registered in this store."""
    found = store.recorder.select_notifications(None, 1, topics=[get_topic(Agency.Registered)])
    return bool(found)


def build_demo(settings: Settings, starting: Callable[[], None] = lambda: None) -> DemoResult:
    """Make the demo city in a migrated, empty system; DemoRefusedError if it has agencies.
    ``starting`` is called once the system is known to be empty."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        write = build_write_side(settings)
        stack.callback(write.close)
        if has_agencies(write.app):
            raise DemoRefusedError(
                f"the data folder {settings.data_dir} already has agencies: the demo runs "
                "only on an empty one (nothing was changed)")
        starting()
        env = worker_env(write.es_env)
        start_workers(settings, write, env, stack)
        city = DemoCity(write, {name: View.polled(tracking_view(name, env)) for name in (
            ReadModel.name, ExchangeViews.name, Dispatcher.name, OversightViews.name)})
        accounts = city.people()
        path = write_password_file(settings.data_dir, accounts)
        story.tell(city)
        result = city.summary(accounts, path)
    result.seconds = time.monotonic() - started
    return result


def write_password_file(data_dir: Path, accounts: Iterable[Account]) -> Path:
    """The accounts and passwords in a file only its owner may read (0600)."""
    path = data_dir.resolve() / PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# docmgmt demo accounts (development data; change them before any real use)\n")
        fh.write(account_table(accounts))
    return path


def account_table(accounts: Iterable[Account]) -> str:
    """The accounts as a plain-text table: username, role, agency, password."""
    rows = [("username", "role", "agency", "password")]
    rows += [(a.username, f"{a.role.value} ({ROLE_NAMES[a.role]})", a.agency, a.password)
             for a in accounts]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def status_lines(result: DemoResult) -> Iterator[str]:
    """What the demo made, one line per kind, for the terminal."""
    def joined(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in counts.items())

    yield f"outgoing documents ({sum(result.outgoing.values())}): {joined(result.outgoing)}"
    yield f"incoming copies ({sum(result.incoming.values())}): {joined(result.incoming)}"
    yield f"incoming deadlines now: {joined(result.deadlines)}"
