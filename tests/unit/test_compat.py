"""Each override in docmgmt.compat gives what the library's own gives; install() is guarded."""

from __future__ import annotations

import asyncio
import inspect
import io
import random
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from asn1crypto import cms, tsp, x509
from eventsourcing.persistence import ListenNotifySubscription
from eventsourcing.postgres import ConnectionPool, PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import EventSourcedProjection
from eventsourcing.utils import get_topic
from pyhanko.pdf_utils import generic
from pyhanko.sign import general
from pyhanko.sign.attributes import SigningCertificateV2Provider
from pyhanko.sign.signers import Signer

import docmgmt.compat
from docmgmt.compat import asn1crypto as compat_asn1crypto
from docmgmt.compat import eventsourcing as compat_eventsourcing
from docmgmt.compat import pyhanko as compat_pyhanko
from docmgmt.compat.asn1crypto import ORIGINAL_NAME_HASHABLE
from docmgmt.compat.pyhanko import (
    ORIGINAL_MATCH_ISSUER_SERIAL,
    ORIGINAL_READ_HEX,
    ORIGINAL_SIGNED_ATTR_PROVIDER_SPEC,
    EncodedSigningCertificate,
    match_issuer_serial,
    read_hex_string_from_stream,
    signed_attr_provider_spec,
)
from docmgmt.compat.versions import LibraryVersionError, require
from docmgmt.domain.agency import Agency
from docmgmt.domain.common import Actor
from docmgmt.kernel.db import Database
from docmgmt.kernel.store import DocMgmt


def outcome(reader: Any, data: bytes) -> tuple[str, Any, int]:
    """What a reader returns (type, value) or raises, and where it leaves the stream."""
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except Exception as exc:  # the error itself is compared
        return type(exc).__name__, str(exc), stream.tell()
    return type(value).__name__, bytes(value.original_bytes), stream.tell()


CASES = [
    b"<>", b"<41>", b"<4>", b"<414>", b"<41 42\n43\r\t\x00\x0c44>rest", b"<  >",
    b"<4142>>", b"<41G2>", b"<41", b"<", b"<41 % a comment > 42\n43>", b"<fe ff 00 41>",
    b"<" + b"0" * 20000 + b"ab>tail", b"<" + b"ab\n" * 5000 + b"c>", b"<%>\n41>",
]


@pytest.mark.parametrize("data", CASES)
def test_hex_strings_read_as_pyhanko_reads_them(data: bytes) -> None:
    assert outcome(read_hex_string_from_stream, data) == outcome(ORIGINAL_READ_HEX, data)


def test_random_hex_strings_read_as_pyhanko_reads_them() -> None:
    rng = random.Random(7)  # noqa: S311 - test inputs, not secrets
    alphabet = b"0123456789abcdefABCDEF \n\r\t\x00\x0c%>gZ<"
    for _ in range(2000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        data = b"<" + body + rng.choice([b">", b">x", b""])
        assert outcome(read_hex_string_from_stream, data) == outcome(ORIGINAL_READ_HEX, data)


def test_the_replacements_are_the_ones_pyhanko_calls() -> None:
    assert generic.read_hex_string_from_stream is read_hex_string_from_stream
    assert general.match_issuer_serial is match_issuer_serial
    # Parsing through pyHanko's own entry point uses the fast reader's result.
    parsed = generic.read_object(io.BytesIO(b"<4142 43>"), None)  # type: ignore[no-untyped-call]
    assert bytes(parsed.original_bytes) == b"ABC"


def _name(cn: str) -> x509.Name:
    return x509.Name.build({"common_name": cn, "country_name": "VN"})


def _cert(issuer: x509.Name, serial: int) -> x509.Certificate:
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": serial,
        "signature": {"algorithm": "sha256_rsa"}, "issuer": issuer,
        "validity": {"not_before": x509.Time({"utc_time": "260101000000Z"}),
                     "not_after": x509.Time({"utc_time": "270101000000Z"})},
        "subject": _name("leaf"),
        "subject_public_key_info": {"algorithm": {"algorithm": "rsa"},
                                    "public_key": {"modulus": 3233, "public_exponent": 17}},
    })
    return x509.Certificate({"tbs_certificate": tbs,
                             "signature_algorithm": {"algorithm": "sha256_rsa"},
                             "signature_value": b"\x00"})


def test_issuer_serial_matches_as_pyhanko_matches() -> None:
    issuer = _name("Root CA")
    # The same name in another string type: equal as X.500 names, not byte-equal.
    printable = x509.Name.build({"common_name": "root ca", "country_name": "VN"},
                                use_printable=True)
    cert = _cert(issuer, 1234)
    for expected_issuer, serial in [(issuer, 1234), (issuer, 1235), (printable, 1234),
                                    (printable, 99), (_name("Other"), 1234)]:
        sid = cms.IssuerAndSerialNumber({"issuer": expected_issuer, "serial_number": serial})
        assert match_issuer_serial(sid, cert) == ORIGINAL_MATCH_ISSUER_SERIAL(sid, cert)
    assert match_issuer_serial(
        cms.IssuerAndSerialNumber({"issuer": printable, "serial_number": 1234}), cert)


def test_ess_issuer_serial_matches_as_pyhanko_matches() -> None:
    issuer = _name("Root CA")
    printable = x509.Name.build({"common_name": "root ca", "country_name": "VN"},
                                use_printable=True)
    cert = _cert(issuer, 77)

    def ess(names: list[x509.GeneralName], serial: int) -> tsp.IssuerSerial:
        # Loaded from DER, as pyHanko reads it from a signature (the [4] tag kept).
        return tsp.IssuerSerial.load(tsp.IssuerSerial(
            {"issuer": x509.GeneralNames(names), "serial_number": serial}).dump())

    def directory(name: x509.Name) -> x509.GeneralName:
        return x509.GeneralName(name="directory_name", value=name)

    uri = x509.GeneralName(name="uniform_resource_identifier", value="http://ca.example")
    cases = [([directory(issuer)], 77, True), ([directory(issuer)], 78, False),
             ([directory(printable)], 77, True), ([directory(_name("Other"))], 77, False),
             ([directory(issuer), directory(issuer)], 77, False), ([uri], 77, False)]
    for names, serial, expected in cases:
        sid = ess(names, serial)
        assert match_issuer_serial(sid, cert) is expected
        assert ORIGINAL_MATCH_ISSUER_SERIAL(sid, cert) is expected


def test_name_keys_are_the_ones_asn1crypto_computes() -> None:
    names = [_name("Root CA"), _name("root ca"), _name("Sở Thông tin và Truyền thông"),
             x509.Name.build({"common_name": "root ca", "country_name": "VN"},
                             use_printable=True)]
    # The [4]-tagged directoryName of a GeneralName, as parsed from DER.
    general = x509.GeneralNames.load(x509.GeneralNames(
        [x509.GeneralName(name="directory_name", value=names[0])]).dump())
    names.append(general[0].chosen)
    for name in names:
        for _ in range(2):  # computed, then remembered
            assert name.hashable == ORIGINAL_NAME_HASHABLE.fget(name)
    # Names equal under LDAP preparation share the key, as before.
    assert names[0].hashable == names[1].hashable == names[3].hashable == names[4].hashable
    assert names[2].hashable != names[0].hashable


def test_install_is_idempotent() -> None:
    docmgmt.compat.install()
    docmgmt.compat.install()
    assert generic.read_hex_string_from_stream is read_hex_string_from_stream
    assert general.match_issuer_serial is match_issuer_serial
    assert x509.Name.hashable is compat_asn1crypto.NAME_HASHABLE
    assert Signer._signed_attr_provider_spec is signed_attr_provider_spec
    assert ConnectionPool.check_connection is compat_eventsourcing.check_connection
    assert ListenNotifySubscription._pull is compat_eventsourcing.pull


@pytest.mark.parametrize("library", [compat_pyhanko, compat_asn1crypto, compat_eventsourcing])
def test_install_refuses_another_library_version_and_replaces_nothing(
        monkeypatch: pytest.MonkeyPatch, library: Any) -> None:
    monkeypatch.setattr(generic, "read_hex_string_from_stream", ORIGINAL_READ_HEX)
    monkeypatch.setattr(general, "match_issuer_serial", ORIGINAL_MATCH_ISSUER_SERIAL)
    monkeypatch.setattr(x509.Name, "hashable", ORIGINAL_NAME_HASHABLE)
    monkeypatch.setattr(Signer, "_signed_attr_provider_spec", ORIGINAL_SIGNED_ATTR_PROVIDER_SPEC)
    monkeypatch.setattr(ConnectionPool, "check_connection",
                        staticmethod(compat_eventsourcing.ORIGINAL_CHECK_CONNECTION))
    monkeypatch.setattr(ListenNotifySubscription, "_pull", compat_eventsourcing.ORIGINAL_PULL)
    monkeypatch.setattr(library, "WRITTEN_FOR", "0.0.1")
    with pytest.raises(LibraryVersionError, match=rf"{library.DISTRIBUTION} 0\.0\.1"):
        docmgmt.compat.install()
    # Every version is checked before anything is replaced.
    assert generic.read_hex_string_from_stream is ORIGINAL_READ_HEX
    assert general.match_issuer_serial is ORIGINAL_MATCH_ISSUER_SERIAL
    assert x509.Name.hashable is ORIGINAL_NAME_HASHABLE
    assert Signer._signed_attr_provider_spec is ORIGINAL_SIGNED_ATTR_PROVIDER_SPEC
    assert ConnectionPool.check_connection is compat_eventsourcing.ORIGINAL_CHECK_CONNECTION
    assert ListenNotifySubscription._pull is compat_eventsourcing.ORIGINAL_PULL


def test_the_version_check_names_both_versions() -> None:
    with pytest.raises(LibraryVersionError, match=r"pyHanko 0\.37\.0.*pyHanko 0\.38\.0"):
        require("pyHanko", "0.37.0")
    require("pyHanko", "0.38.0")


def test_the_eventsourcing_internals_are_the_ones_the_entry_points_were_written_for() -> None:
    """The private members the named entry points call exist with the expected parameters."""
    insert = inspect.signature(PostgresTrackingRecorder._insert_tracking)
    assert list(insert.parameters) == ["self", "curs", "tracking"]
    record = inspect.signature(EventSourcedProjection._record)
    assert list(record.parameters) == ["self", "processing_event"]
    assert compat_eventsourcing.WRITTEN_FOR == "9.5.6"


def test_the_signing_certificate_attribute_is_the_one_pyhanko_builds() -> None:
    """Same DER as pyHanko's provider (tests/signing/test_signing_caches.py checks it in
    real signatures)."""
    for cert in (_cert(_name("Root CA"), 5), _cert(_name("Sở Thông tin và Truyền thông"), 6)):
        original = asyncio.run(SigningCertificateV2Provider(cert).build_attr_value())
        for _ in range(2):  # encoded, then remembered
            encoded = asyncio.run(EncodedSigningCertificate(cert).build_attr_value())
            assert encoded.dump() == original.dump()


def _check_outcome(check: Any, conn: psycopg.Connection[Any]) -> str:
    try:
        check(conn)
    except psycopg.Error as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.postgres
def test_the_socket_check_refuses_what_the_ping_refuses(database: Database) -> None:
    """Alive, alive with a notification waiting, closed by its server (a restart or a
    terminated backend), closed here: the pool's check and the library's ping agree."""
    original = compat_eventsourcing.ORIGINAL_CHECK_CONNECTION
    conninfo = database.app.conninfo()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for case in ("alive", "notified", "terminated", "closed"):
            conns = [psycopg.connect(conninfo, autocommit=True) for _ in range(2)]
            try:
                for conn in conns:
                    conn.execute("LISTEN compat_check")
                if case == "notified":
                    admin.execute("NOTIFY compat_check")
                if case == "terminated":
                    for conn in conns:
                        admin.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
                if case == "closed":
                    for conn in conns:
                        conn.close()
                time.sleep(0.2)  # the server's message reaches the socket
                ours = _check_outcome(compat_eventsourcing.check_connection, conns[0])
                theirs = _check_outcome(original, conns[1])
                assert ours == theirs, case
                assert (ours == "ok") is (case in ("alive", "notified")), case
            finally:
                for conn in conns:
                    conn.close()


@pytest.mark.postgres
def test_the_library_pools_check_with_the_installed_check(database: Database) -> None:
    """With pre-ping on, an eventsourcing datastore built after install() checks each
    connection it lends with the socket check (the library reads the class attribute)."""
    docmgmt.compat.install()
    app = database.app
    datastore = PostgresDatastore(app.dbname, app.host, app.port, app.user, app.password,
                                  pre_ping=True)
    try:
        assert datastore.pool._check is compat_eventsourcing.check_connection
    finally:
        datastore.close()


ACTOR = Actor(uuid.uuid4(), "tester", "127.0.0.1")


def _registrations(app: Any, topics: list[str], count: int) -> tuple[list[int], Any]:
    """The first ``count`` notification ids a topic-filtered subscription delivers, and
    where it says it has read to once it has nothing more to deliver."""
    with app.recorder.subscribe(gt=0, topics=topics) as subscription:
        ids = [next(subscription).id for _ in range(count)]
        deadline = time.monotonic() + 5
        while subscription._notifications_queue.qsize() or (
                time.monotonic() < deadline
                and subscription._last_notification_id != app.recorder.max_notification_id()):
            time.sleep(0.01)
        return ids, subscription._last_notification_id


@pytest.mark.postgres
def test_a_filtered_subscription_delivers_what_the_library_delivers_and_reads_on(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same events of its topics, in the same order; but it remembers having read the other
    topics' events after the last of its own, so the next wake-up does not read them again."""
    docmgmt.compat.install()
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        for code in ("A", "B", "C"):
            agency = Agency.register(code, f"Sở {code}", None, ACTOR)
            for k in range(10):
                agency.add_unit(f"U{k}", f"Phòng {k}", ACTOR)
            app.save(agency)
        topics = [get_topic(Agency.Registered)]
        head = app.recorder.max_notification_id()
        ours, read_to = _registrations(app, topics, 3)
        assert read_to == head
        with monkeypatch.context() as patch:
            patch.setattr(ListenNotifySubscription, "_pull", compat_eventsourcing.ORIGINAL_PULL)
            theirs, their_read_to = _registrations(app, topics, 3)
        assert ours == theirs
        assert their_read_to == theirs[-1] < head
        # An event of its topics written later is still delivered.
        app.save(Agency.register("D", "Sở D", None, ACTOR))
        with app.recorder.subscribe(gt=head, topics=topics) as subscription:
            assert next(subscription).id == app.recorder.max_notification_id()
    finally:
        app.close()


@pytest.mark.postgres
def test_a_subscription_with_a_pull_delay_reads_the_events_of_the_delay_together(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five events written 20 ms apart reach a subscription with a pull delay in one read
    (without it the first read holds the first event alone). The delay is 2 s here, not the
    0.3 s a runner uses: on a loaded CI machine five saves took longer than 0.3 s.

    The subscription's thread makes its first read as it starts, before the delay is set;
    the events are written only after that read, or a thread started late on a loaded
    machine would read the first event alone, with no delay (seen once in CI)."""
    docmgmt.compat.install()
    first_read_done = threading.Event()
    installed_pull = ListenNotifySubscription._pull

    def pull_and_tell(subscription: Any) -> None:
        installed_pull(subscription)
        first_read_done.set()

    monkeypatch.setattr(ListenNotifySubscription, "_pull", pull_and_tell)
    app = DocMgmt(env=database.app.eventsourcing_env("docmgmt", 2))
    try:
        app.save(Agency.register("G", "Sở G", None, ACTOR))
        head = app.recorder.max_notification_id()
        with app.recorder.subscribe(gt=head) as subscription:
            subscription.pull_delay = 2.0  # delay_pulls sets one on a runner's subscription
            assert first_read_done.wait(30)
            written = []
            for k in range(5):
                agency = Agency.register(f"G{k}", f"Sở G{k}", None, ACTOR)
                written.append(app.save(agency)[-1].notification.id)
                time.sleep(0.02)
            assert next(subscription).id == written[0]
            assert [n.id for n in subscription._notifications] == written
    finally:
        app.close()
