"""Identity steps on in-memory persistence: each loads its aggregate once and saves once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from docmgmt.domain.common import Role
from docmgmt.domain.errors import AlreadyExistsError, PermissionDeniedError, StaleVersionError
from docmgmt.identity import agencies, users
from docmgmt.identity.context import IdentityContext
from docmgmt.identity.login import authenticate
from docmgmt.identity.users import SYSTEM, NewUser
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import DocMgmt
from tests.support.identity import in_memory_identity

PASSWORD = "mật-khẩu-đủ-dài"


@pytest.fixture
def ctx() -> Iterator[IdentityContext]:
    store = DocMgmt(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield in_memory_identity(store)
    finally:
        store.close()


def _counting(store: DocMgmt, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the store's loads and commits from now on."""
    counts = {"load": 0, "commit": 0}
    for name in counts:
        original = getattr(store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            counts[_name] += 1
            return _original(*args)

        monkeypatch.setattr(store, name, counted)
    return counts


def test_each_step_loads_once_and_commits_once(
    ctx: IdentityContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = agencies.register_agency(ctx.store, SYSTEM, "SOA", "Sở A", None).id
    user = users.create_user(ctx, SYSTEM, NewUser("lan.tran", "Trần Thị Lan", PASSWORD,
                                                  [Role.CLERK], agency)).id
    counts = _counting(ctx.store, monkeypatch)
    steps = [
        lambda: agencies.add_unit(ctx.store, SYSTEM, agency, "VP", "Văn phòng", None),
        lambda: users.change_roles(ctx, SYSTEM, user, [Role.OFFICIAL], None),
        lambda: users.deactivate(ctx, SYSTEM, user, "nghỉ phép"),
        lambda: users.reactivate(ctx.store, SYSTEM, user, "đi làm lại"),
        lambda: users.set_password(ctx, SYSTEM, user, PASSWORD + "!"),
    ]
    for step in steps:
        counts.update(load=0, commit=0)
        step()
        assert counts == {"load": 1, "commit": 1}
    assert authenticate(ctx, "lan.tran", PASSWORD + "!").roles == ["official"]


def test_steps_authorise_and_check_the_version_first(ctx: IdentityContext) -> None:
    agency = agencies.register_agency(ctx.store, SYSTEM, "SOA", "Sở A", None).id
    user = users.create_user(ctx, SYSTEM, NewUser("lan.tran", "Trần Thị Lan", PASSWORD,
                                                  [Role.CLERK], agency)).id
    clerk = Principal(user, "lan.tran", agency, None, frozenset({Role.CLERK}))
    with pytest.raises(PermissionDeniedError):
        agencies.register_agency(ctx.store, clerk, "SOB", "Sở B", None)
    with pytest.raises(PermissionDeniedError):
        users.reactivate(ctx.store, clerk, user, "tự mở")
    with pytest.raises(AlreadyExistsError):
        agencies.register_agency(ctx.store, SYSTEM, "soa", "Again", None)
    with pytest.raises(StaleVersionError):
        users.change_roles(ctx, SYSTEM, user, [Role.OFFICIAL], 7)
    # A user may set their own password, never another's.
    users.set_password(ctx, clerk, user, PASSWORD + "?")
    with pytest.raises(PermissionDeniedError):
        users.set_password(ctx, clerk, SYSTEM.user_id, PASSWORD)
