"""A failed step removes the files it stored, unless their bytes are named or in use."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docmgmt.domain.common import Actor
from docmgmt.identity.agencies import register_agency
from docmgmt.kernel.newblobs import NewBlobs, removed_unless_saved
from docmgmt.kernel.store import DocMgmt
from storage import FilesystemBlobStore
from storage.base import content_key
from tests.support.claims import ThreadBlobClaims
from tests.support.identity import admin_acting_as

ACTOR = Actor(uuid.uuid4(), "clerk.test", "127.0.0.1")


class LostRaceError(Exception):
    """The step lost its race."""


def losing_step(app: DocMgmt, store: FilesystemBlobStore, claims: ThreadBlobClaims,
                work: Callable[[NewBlobs], object]) -> None:
    """A step that stores through ``work`` and then loses its race."""
    with removed_unless_saved(app, store, claims) as new:
        work(new)
        raise LostRaceError


@pytest.fixture
def app() -> Iterator[DocMgmt]:
    application = DocMgmt(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    (tmp_path / "blobs").mkdir()
    return FilesystemBlobStore(tmp_path / "blobs")


def a_file(tmp_path: Path, text: str) -> tuple[Path, str, int]:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(text.encode())
    return path, hashlib.sha256(text.encode()).hexdigest(), len(text)


def test_a_losing_step_removes_the_file_it_created(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path
) -> None:
    path, digest, size = a_file(tmp_path, "loser's signed bytes")
    keys: list[str] = []
    with pytest.raises(LostRaceError):
        losing_step(app, store, ThreadBlobClaims(),
                    lambda new: keys.append(new.put_file(path, digest, size)))
    assert keys
    assert not store.exists(keys[0])


def test_a_saved_step_keeps_its_file(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path
) -> None:
    path, digest, size = a_file(tmp_path, "winner's bytes")
    with removed_unless_saved(app, store, ThreadBlobClaims()) as new:
        key = new.put_file(path, digest, size)
    assert store.exists(key)


def test_bytes_that_existed_before_are_never_removed(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path
) -> None:
    # The same PDF uploaded earlier (its event may be long recorded).
    path, digest, size = a_file(tmp_path, "a PDF uploaded twice")
    key = store.put_file(path, digest, size)
    with pytest.raises(LostRaceError):
        losing_step(app, store, ThreadBlobClaims(),
                    lambda new: new.put_file(path, digest, size))
    assert store.exists(key)


def test_bytes_named_by_an_event_recorded_meanwhile_are_kept(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path
) -> None:
    path, digest, size = a_file(tmp_path, "identical signed bytes")
    def work(new: NewBlobs) -> None:
        new.put_file(path, digest, size)
        # The winner produced the same bytes and recorded an event naming them.
        register_agency(app, admin_acting_as(ACTOR), "SOW", f"names {digest}", None)

    with pytest.raises(LostRaceError):
        losing_step(app, store, ThreadBlobClaims(), work)
    assert store.exists(content_key(digest))


@pytest.mark.parametrize("other_saves", [True, False])
def test_removal_waits_for_a_request_storing_the_same_bytes(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path, other_saves: bool
) -> None:
    claims = ThreadBlobClaims()
    path, digest, size = a_file(tmp_path, "same bytes, two requests")
    stored, release, done = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        # Stores the same bytes after the loser created them; saves its event or loses too.
        try:
            with removed_unless_saved(app, store, claims) as new:
                new.put_file(path, digest, size)
                stored.set()
                release.wait(10)
                if not other_saves:
                    raise LostRaceError
                register_agency(app, admin_acting_as(ACTOR), "SOW", f"names {digest}", None)
        except LostRaceError:
            pass
        done.set()

    thread = threading.Thread(target=other)

    def work(new: NewBlobs) -> None:
        new.put_file(path, digest, size)
        thread.start()
        assert stored.wait(10)
        threading.Timer(0.3, release.set).start()

    with pytest.raises(LostRaceError):
        losing_step(app, store, claims, work)
    assert done.wait(10)
    thread.join(10)
    # The creator waited for the other request: the file stays only if an event names it.
    assert store.exists(content_key(digest)) is other_saves


def test_a_refused_delete_leaves_the_file_for_gc(
    app: DocMgmt, store: FilesystemBlobStore, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def locked(key: str) -> None:
        raise PermissionError("object is WORM protected")  # as S3 Object Lock answers

    monkeypatch.setattr(store, "delete", locked)
    path, digest, size = a_file(tmp_path, "retained bytes")
    with caplog.at_level(logging.WARNING, "docmgmt.storage"), pytest.raises(LostRaceError):
        losing_step(app, store, ThreadBlobClaims(),
                    lambda new: new.put_file(path, digest, size))
    assert store.exists(content_key(digest))
    assert "left for storage gc" in caplog.text
    assert "WORM" not in caplog.text
