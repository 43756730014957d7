"""Login rate limits: per account and per client address, shared by every API process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, make_city, served_api
from tests.api.support import assert_error
from tests.support.pg import Cluster
from tests.support.server import serve


@pytest.fixture(scope="module")
def limited(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A served API with the default per-account limit and a small per-address one."""
    with served_api(pg_cluster, tmp_path_factory.mktemp("data"),
                    login_max_failures_per_address=25) as api:
        yield api


@pytest.fixture(scope="module")
def limited_city(limited: Api) -> dict[str, Any]:
    """The usual agencies and users on the limited API."""
    return make_city(limited)


def _login(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(base + "/auth/token", data={"username": username, "password": password},
                      timeout=60)


def _clear(api: Api) -> None:
    """Forget every recorded failure (so each test starts unlocked)."""
    import psycopg
    with psycopg.connect(api.db.owner.url(), autocommit=True) as conn:
        conn.execute("DELETE FROM docmgmt.login_failures")


def test_the_eleventh_wrong_password_in_a_minute_is_429(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    _clear(limited)
    # Ten wrong passwords are answered 401 as before.
    for _ in range(10):
        assert_error(_login(limited.base, "official_a", "wrong-password!"), 401,
                     "invalid_credentials")
    # The eleventh is refused without checking, with a time to wait.
    r = _login(limited.base, "official_a", "wrong-password!")
    body = assert_error(r, 429, "too_many_attempts")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "password" not in body["detail"]
    # The right password while locked out gets the same 429: no oracle.
    r = _login(limited.base, "official_a", PASSWORD)
    assert_error(r, 429, "too_many_attempts")
    # Another account at the same address still logs in.
    assert _login(limited.base, "leader_a", PASSWORD).status_code == 200


def test_unknown_usernames_are_limited_alike(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    _clear(limited)
    answers = {}
    for username in ("clerk_a", "nobody_here"):
        codes = [_login(limited.base, username, "wrong-password!").status_code
                 for _ in range(11)]
        r = _login(limited.base, username, "wrong-password!")
        answers[username] = (codes, r.status_code, r.json()["error"], sorted(r.headers))
    # An existing and a non-existent account look the same to the guesser.
    assert answers["clerk_a"][0] == [401] * 10 + [429]
    assert answers["clerk_a"] == answers["nobody_here"]


def test_the_per_address_limit_covers_many_usernames(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    _clear(limited)
    # 25 wrong passwords, each for another name (a spray): all 401.
    for i in range(25):
        assert _login(limited.base, f"spray{i:02d}", "wrong-password!").status_code == 401
    # Then the address is held back, even for a right password of an untouched account.
    r = _login(limited.base, "official_b", PASSWORD)
    assert_error(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) >= 1
    _clear(limited)
    assert _login(limited.base, "official_b", PASSWORD).status_code == 200


def test_failed_logins_are_recorded_for_auditors_not_in_the_event_log(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    _clear(limited)
    events_before = _event_count(limited)
    for _ in range(3):
        _login(limited.base, "leader_a", "wrong-password!")
    assert _event_count(limited) == events_before
    admin = limited.client("root")
    r = admin.get("/auth/failed-logins")
    assert r.status_code == 200, r.text
    rows = [f for f in r.json() if f["username"] == "leader_a"]
    assert len(rows) == 3
    assert rows[0]["client_address"] == "127.0.0.1"
    assert rows[0]["at"].endswith("+00:00")
    # An official may not read them.
    assert_error(limited.client("official_a").get("/auth/failed-logins"), 403,
                 "permission_denied")


def test_the_record_stays_bounded(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    with served_api(pg_cluster, tmp_path / "data", login_failures_keep=5,
                    login_max_failures_per_address=1000) as api:
        admin = api.client("root")
        for i in range(8):
            _login(api.base, f"name{i}", "wrong-password!")
        rows = admin.get("/auth/failed-logins").json()
        assert [f["username"] for f in rows] == [f"name{i}" for i in range(7, 2, -1)]


def test_limits_hold_across_api_processes(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    _clear(limited)
    with serve(limited.settings) as other:
        for base in [limited.base, other] * 5:
            assert _login(base, "official_b", "wrong-password!").status_code == 401
        assert_error(_login(other, "official_b", "wrong-password!"), 429, "too_many_attempts")
        assert_error(_login(limited.base, "official_b", PASSWORD), 429, "too_many_attempts")


def _event_count(api: Api) -> int:
    import psycopg
    with psycopg.connect(api.db.owner.url()) as conn:
        row = conn.execute("SELECT count(*) FROM docmgmt.docmgmt_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_parallel_burst_gets_no_more_guesses(
    limited: Api, limited_city: dict[str, Any]
) -> None:
    import threading
    import time

    _clear(limited)
    codes: list[int] = []
    barrier = threading.Barrier(20)

    def guess() -> None:
        barrier.wait()
        codes.append(_login(limited.base, "clerk_a", "wrong-password!").status_code)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Twenty guesses at once: no more than ten were checked, the rest refused.
    assert codes.count(401) <= 10, codes
    assert codes.count(401) + codes.count(429) == 20, codes
    # Guessing on one at a time, the account gets exactly ten checked guesses in all.
    checked = codes.count(401)
    for _ in range(20):
        if _login(limited.base, "clerk_a", "wrong-password!").status_code != 401:
            break
        checked += 1
    assert checked == 10
    # A refusal costs no password check: it answers quickly.
    started = time.monotonic()
    assert_error(_login(limited.base, "clerk_a", PASSWORD), 429, "too_many_attempts")
    assert time.monotonic() - started < 1.0
