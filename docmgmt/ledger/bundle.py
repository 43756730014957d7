"""Evidence bundle of one document: its events, their Merkle proofs, the signed checkpoint,
the files the events name and the validation reports of signed outputs, in one zip.

Checkpoint policy: the bundle proves every event against the *latest* checkpoint. If that
checkpoint does not yet cover the document's last event, the caller's ``checkpoint``
callable is asked to make one (the API passes the development system key outside
production); without it the build is refused with ``EvidenceNotReadyError``, so a bundle
never holds an event that no signed root covers.

The checkpoint table stores the signer's certificate and the intermediate CA certificates
its key backend holds; they go into ``checkpoint/chain.pem`` (with any the caller adds as
``signer_chain``), so ``verify-bundle --trust-root`` can link the signer to its root (the
TSA's chain travels inside the timestamp token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from uuid import UUID

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from docmgmt.domain.access import access_log_id
from docmgmt.domain.errors import ConflictError, DocumentNotFoundError
from docmgmt.ledger.bundle_verify import (
    CERTIFICATE,
    CHAIN,
    CRLS,
    MANIFEST,
    NOTE,
    SIGNATURE,
    TIMESTAMP,
    canonical_json,
    named_files,
)
from docmgmt.ledger.checkpoint import newest_checkpoint
from docmgmt.ledger.leaf import event_leaf_hash
from docmgmt.ledger.merkle import inclusion_proof
from docmgmt.ledger.state_tree import StateTree, state_as_of
from docmgmt.ledger.stored_tree import StoredTree, TiledTree, read_proving, read_tree
from signing.port import ReportDict

BUNDLE_FORMAT = 1
SIGNED_OUTPUTS = ("OutgoingDocument.Signed", "OutgoingDocument.Numbered",
                  "OutgoingDocument.Sealed")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class EvidenceNotReadyError(ConflictError):
    """The ledger or its signed checkpoints do not yet cover the document's events."""

    code = "evidence_not_ready"


class EvidenceMismatchError(ConflictError):
    """A stored event or file disagrees with the ledger: run ``docmgmt verify``."""

    code = "evidence_mismatch"


class VerifiedBlobs(Protocol):
    """Reads stored files, checking their digest."""

    def open_verified(self, key: str, sha256: str) -> AbstractContextManager[BinaryIO]:
        """Open an object whose bytes were checked against sha256."""
        ...


class ReportPort(Protocol):
    """Validates a signed PDF (PadesService.validate)."""

    def validate(self, path: Path) -> ReportDict:
        """The validation report of a PDF."""
        ...


def _document_events(conn: psycopg.Connection[Any], document_id: UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state"
        " FROM docmgmt.docmgmt_events WHERE originator_id = ANY(%s) ORDER BY notification_id",
        ([document_id, access_log_id(document_id)],)).fetchall()


def _wait_for_leaves(conninfo: str, position: int, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT max(position) FROM docmgmt.ledger_leaves").fetchone()
        if row is not None and row[0] is not None and int(row[0]) >= position:
            return
        if time.monotonic() >= deadline:
            raise EvidenceNotReadyError(
                f"the ledger worker has not yet hashed event {position}; retry shortly",
                position=position)
        time.sleep(0.1)


def _leaves_and_events(
    conn: psycopg.Connection[Any], cp: tuple[Any, ...] | None, document_id: UUID,
) -> tuple[StoredTree | TiledTree, list[tuple[Any, ...]]]:
    """The leaves of checkpoint ``cp`` that the document's proofs need, and the document's
    events among them."""
    events = _document_events(conn, document_id)

    def covered(last: int | None) -> list[tuple[Any, ...]]:
        return [r for r in events if last is not None and int(r[0]) <= last]

    stored = (read_tree(conn, 0) if cp is None else read_proving(
        conn, int(cp[0]), bytes(cp[1]), lambda last: [int(r[0]) for r in covered(last)]))
    return stored, covered(stored.last_position)


def _covering_checkpoint(
    conninfo: str, document_id: UUID, last_position: int,
    checkpoint: Callable[[], object] | None,
) -> tuple[tuple[Any, ...], StoredTree | TiledTree, StateTree | None, list[tuple[Any, ...]]]:
    """The latest checkpoint, its leaves (as many as the document's proofs need) and
    (format 2) its state tree, once it covers ``last_position``; with the document's
    events that it covers, read in the same snapshot."""
    for attempt in range(2):
        with psycopg.connect(conninfo) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                cp = newest_checkpoint(conn)
                stored, rows = _leaves_and_events(conn, cp, document_id)
                last = stored.last_position
                states = (state_as_of(conn, last, (int(cp[9]), bytes(cp[10])))
                          if cp is not None and cp[10] is not None and last is not None
                          else None)
        if cp is not None and last is not None and last >= last_position:
            return cp, stored, states, rows
        if attempt == 0 and checkpoint is not None:
            checkpoint()
    raise EvidenceNotReadyError(
        "no signed checkpoint covers the document's latest event yet; run "
        "`docmgmt ledger checkpoint` (or wait for the checkpointer) and retry",
        position=last_position)


def build_bundle(
    conninfo: str, document_id: UUID, blobs: VerifiedBlobs, out_dir: Path, *,
    validator: ReportPort | None = None, checkpoint: Callable[[], object] | None = None,
    wait_seconds: float = 10.0, now: Callable[[], datetime] = lambda: datetime.now(UTC),
    signer_chain: Sequence[bytes] = (),
) -> Path:
    """Write the evidence zip of one document (and its access log) into ``out_dir``.

    ``signer_chain``: DER intermediate CA certificates of the checkpoint signer, if any.
    """
    with psycopg.connect(conninfo) as conn:
        rows = _document_events(conn, document_id)
    if not rows:
        raise DocumentNotFoundError(f"OutgoingDocument {document_id} not found")
    last = int(rows[-1][0])
    _wait_for_leaves(conninfo, last, wait_seconds)
    cp, stored, states, covered = _covering_checkpoint(conninfo, document_id, last, checkpoint)
    tree_size, root = int(cp[0]), bytes(cp[1])
    tree = stored.tree
    if tree.size != tree_size or tree.root() != root:
        raise EvidenceMismatchError(f"the ledger leaves do not give the root of the "
                                    f"checkpoint at tree size {tree_size}")
    if states is not None:
        # The state tree proves the bundle complete up to the checkpoint, so it must hold
        # every event the checkpoint covers (some may have come after the first read).
        rows = covered
        state_proofs = _state_proofs(states, (int(cp[9]), bytes(cp[10])), document_id, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"evidence-{document_id}-", suffix=".zip", dir=out_dir)
    path = Path(name)
    manifest: list[dict[str, Any]] = []
    try:
        with open(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            def put(arc: str, data: bytes) -> None:
                zf.writestr(zipfile.ZipInfo(arc, _ZIP_TIME), data,
                            compress_type=zipfile.ZIP_DEFLATED)
                manifest.append({"path": arc, "sha256": hashlib.sha256(data).hexdigest(),
                                 "size": len(data)})

            files: dict[str, dict[str, Any]] = {}
            signed: set[str] = set()
            for n, (position, originator_id, version, topic, state) in enumerate(rows, 1):
                position, state = int(position), bytes(state)
                leaf = event_leaf_hash(position, originator_id, int(version), topic, state)
                i = stored.index_of(position)
                if i is None or tree.leaf(i) != leaf:
                    raise EvidenceMismatchError(
                        f"the stored event at position {position} does not match its ledger "
                        "leaf; run `docmgmt verify`", position=position)
                decoded = json.loads(state)
                event = {"notification_id": position, "originator_id": str(originator_id),
                         "originator_version": int(version), "topic": topic,
                         "state_base64": base64.b64encode(state).decode(),
                         "state_json": decoded}
                put(f"events/{n:04d}.json", canonical_json(event))
                put(f"proofs/{n:04d}.json", canonical_json({
                    "event": f"events/{n:04d}.json", "position": position, "leaf_index": i,
                    "tree_size": tree_size, "leaf_hash": leaf.hex(), "root_hash": root.hex(),
                    "inclusion_path": [p.hex() for p in inclusion_proof(tree, i)]}))
                _collect_refs(decoded, files)
                if topic.endswith(SIGNED_OUTPUTS):
                    signed.update(_signed_outputs(decoded))
                missing = named_files(decoded) - files.keys()
                if missing:
                    raise EvidenceMismatchError(
                        f"event {position} names file(s) {sorted(missing)} that no event "
                        "stores", position=position)
            note = str(cp[3])
            put(NOTE, note.encode("utf-8"))
            put(SIGNATURE, bytes(cp[4]))
            put(CERTIFICATE, bytes(cp[5]))
            put(TIMESTAMP, bytes(cp[6]))
            chain = bytes(cp[7] or b"") + b"".join(
                x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
                for der in signer_chain)
            if chain:
                put(CHAIN, chain)
            if cp[8]:
                put(CRLS, bytes(cp[8]))
            if states is not None:
                for aggregate, proof in state_proofs.items():
                    put(f"state/{aggregate}.json", canonical_json(proof))
            put("checkpoint/checkpoint.json", canonical_json({
                "tree_size": tree_size, "root_hash": root.hex(),
                "created_at": cp[2].isoformat()}))
            _put_files(put, blobs, files, signed, validator, out_dir)
            put("README.txt", README.encode("utf-8"))
            put("verify/bundle_verify.py",
                Path(__file__).with_name("bundle_verify.py").read_bytes())
            put(MANIFEST, canonical_json({
                "format": BUNDLE_FORMAT, "document_id": str(document_id),
                "created_at": now().isoformat(), "tree_size": tree_size,
                "root_hash": root.hex(), "files": manifest}))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _state_proofs(states: StateTree, signed: tuple[int, bytes], document_id: UUID,
                  rows: list[tuple[Any, ...]]) -> dict[UUID, dict[str, Any]]:
    """The state-tree proof of the document, its access log and every aggregate with
    events in the bundle, each checked against the bundle's events and the signed root."""
    if (states.size, states.root()) != signed:
        raise EvidenceMismatchError("the ledger leaves do not give the state root of the "
                                    f"checkpoint ({signed[0]} aggregates)")
    tree = states.tree()
    last: dict[UUID, tuple[int, int]] = {}
    for position, originator_id, version, *_ in rows:  # in log order: the last one wins
        last[UUID(str(originator_id))] = (int(version), int(position))
    proofs = {}
    for aggregate in sorted({document_id, access_log_id(document_id), *last}, key=str):
        entry = states.entry(aggregate)
        recorded = (entry.last_version, entry.last_position) if entry else (0, 0)
        if recorded != last.get(aggregate, (0, 0)):
            raise EvidenceMismatchError(f"the ledger's last event of aggregate {aggregate} "
                                        "is not the last stored one; run `docmgmt verify`")
        proofs[aggregate] = states.proof(aggregate, tree)
    return proofs


def _collect_refs(node: Any, files: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if "key" in node and isinstance(node.get("sha256"), str):
            files.setdefault(node["sha256"], node)
        for value in node.values():
            _collect_refs(value, files)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, files)


def _signed_outputs(state: dict[str, Any]) -> set[str]:
    refs: dict[str, dict[str, Any]] = {}
    _collect_refs([state.get("file"), state.get("appendices")], refs)
    return set(refs)


def _put_files(
    put: Callable[[str, bytes], None], blobs: VerifiedBlobs, files: dict[str, dict[str, Any]],
    signed: set[str], validator: ReportPort | None, work: Path,
) -> None:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for digest, ref in sorted(files.items()):
            local = Path(tmp) / f"{digest}.pdf"
            with blobs.open_verified(str(ref["key"]), digest) as fh, local.open("wb") as out:
                shutil.copyfileobj(fh, out)
            data = local.read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:  # pragma: no cover - store checks
                raise EvidenceMismatchError(f"stored file {digest} changed while reading")
            put(f"files/{digest}.pdf", data)
            if digest in signed and validator is not None:
                put(f"reports/{digest}.json", canonical_json(validator.validate(local)))
            local.unlink()


README = """\
HỒ SƠ CHỨNG CỨ ĐIỆN TỬ CỦA MỘT VĂN BẢN / EVIDENCE BUNDLE OF ONE DOCUMENT
=========================================================================

TIẾNG VIỆT
----------
Tệp nén này chứa toàn bộ lịch sử của một văn bản đi, có thể kiểm tra mà không cần
truy cập hệ thống (không cần cơ sở dữ liệu, không cần mạng):

  events/NNNN.json     mỗi sự kiện của văn bản và nhật ký truy cập: số thứ tự trong
                       sổ (notification_id), mã và phiên bản đối tượng, loại (topic), dữ liệu
                       đúng từng byte như đã lưu (state_base64) và bản dễ đọc (state_json).
  proofs/NNNN.json     bằng chứng bao hàm RFC 9162 của sự kiện cùng số trong cây Merkle.
  checkpoint/          mốc kiểm tra: note.txt (kích thước cây, gốc, thời gian) được hệ thống
                       ký số (signature, chứng thư signer.der, có thể kèm chứng thư trung gian
                       chain.pem) và gắn dấu thời gian RFC 3161 (timestamp.tst) trên SHA-256
                       của nội dung mốc; crls.pem: danh sách chứng thư bị thu hồi lấy lúc
                       lập mốc.
  state/<mã>.json      mục của từng đối tượng (văn bản, nhật ký truy cập) trong cây trạng
                       thái đã ký: phiên bản cuối và vị trí trong sổ, kèm bằng chứng bao hàm.
  files/<sha256>.pdf   mọi tệp PDF mà các sự kiện nêu tên (bản dự thảo, bản ký, bản đóng dấu,
                       phụ lục); tên tệp là SHA-256 của nội dung.
  reports/<sha256>.json  báo cáo kiểm tra chữ ký của các bản đã ký (lập lúc xuất hồ sơ,
                       không nằm trong phần được ký của sổ cái).
  manifest.json        danh mục mọi tệp với SHA-256 và kích thước.

Cách kiểm tra: chạy  python verify/bundle_verify.py <tệp>.zip  (cần Python 3.11+, các gói
cryptography và asn1crypto), hoặc  docmgmt verify-bundle <tệp>.zip. Nên dùng bản chương
trình kiểm tra lấy từ nguồn tin cậy thay vì bản kèm trong hồ sơ. Chương trình tính lại mã
băm lá của từng sự kiện, kiểm tra bằng chứng Merkle tới gốc đã ký, kiểm tra chữ ký và dấu
thời gian của mốc, và SHA-256 của từng tệp. Để biết ai đã ký, thêm
--trust-root <chứng thư gốc>.pem (chứng thư gốc do cơ quan công bố): chứng thư ký mốc và
chứng thư của tổ chức cấp dấu thời gian phải dẫn tới chứng thư gốc đó và chưa bị thu hồi
tại thời điểm gắn dấu thời gian theo crls.pem (cần cryptography 45 trở lên). Không có
--trust-root, kết quả chỉ chứng minh tính toàn vẹn so với các chứng thư kèm trong hồ sơ.

Tính đầy đủ: mốc kiểm tra định dạng 2 ký thêm gốc của cây trạng thái (phiên bản cuối của
mỗi đối tượng và vị trí của sự kiện đó trong sổ). state/<mã>.json chứng minh phiên bản cuối
của văn bản và của nhật ký truy cập; hồ sơ phải có đúng các phiên bản 1..cuối, nên việc bỏ
bớt bất kỳ sự kiện nào, kể cả các sự kiện mới nhất, đều bị phát hiện ("ĐÃ CHỨNG MINH ĐẦY
ĐỦ tới mốc kiểm tra"). Mốc định dạng 1 (lập trước khi có cây trạng thái) không có gốc này:
khi đó kết luận ghi rõ việc thiếu sự kiện mới nhất CHƯA được chứng minh là không xảy ra.

ENGLISH
-------
This zip holds the complete history of one outgoing document and can be checked without
access to the system (no database, no network):

  events/NNNN.json     each event of the document and of its access log: log position
                       (notification_id), aggregate id and version, topic, the exact stored
                       bytes (state_base64) and a human-readable view (state_json).
  proofs/NNNN.json     the RFC 9162 inclusion proof of the same-numbered event's leaf.
  checkpoint/          the checkpoint: note.txt (tree size, root, time) signed by the system
                       key (signature, certificate signer.der, intermediate CAs in chain.pem
                       if any) and an RFC 3161 timestamp token (timestamp.tst) over SHA-256
                       of the note body; crls.pem: the revocation lists fetched when the
                       checkpoint was made.
  state/<id>.json      each aggregate's entry (document, access log) in the signed state
                       tree: its last version and log position, with an inclusion proof.
  files/<sha256>.pdf   every PDF the events name (revisions, signed, numbered and sealed
                       outputs, appendices), named by the SHA-256 of its content.
  reports/<sha256>.json  signature validation reports of signed outputs (made at export
                       time; not covered by the ledger's signature).
  manifest.json        every file with its SHA-256 and size.

To check it: run  python verify/bundle_verify.py <file>.zip  (Python 3.11+, with the
cryptography and asn1crypto packages), or  docmgmt verify-bundle <file>.zip. Prefer a copy
of the checker from a trusted source over the one inside the bundle. It recomputes each
event's leaf hash, checks its Merkle proof up to the signed root, checks the checkpoint's
signature and timestamp, and the SHA-256 of every file. To check who signed, add
--trust-root <root>.pem (the root CA certificate the agency publishes): the checkpoint
signer's and the time-stamp authority's certificates must chain to it and must not have
been revoked at the timestamp's time according to crls.pem (this needs cryptography 45 or
newer). Without
--trust-root the result proves integrity relative to the certificates in the bundle only.

Completeness: the checker requires the events to be numbered in log order and each
aggregate (the document, and its access log) to have versions 1..N with none missing or
repeated, so no event between the first and the last one in the bundle can be left out.
The checkpoint note (format 2) also signs the root of a second tree, the state tree, whose
leaves are every aggregate's last version and the log position of that event, sorted by
aggregate id. state/<id>.json gives the entry of the document and of its access log (id =
UUIDv5(document id, "access-log")) with its inclusion proof, or, for an aggregate with no
event, the two adjacent entries sorting on both sides of its id. The checker verifies each
against the signed state root and requires the bundle's events of that aggregate to be
exactly versions 1..last: the signature fixes the root, the proof fixes the last version,
the event proofs fix versions 1..last, so no event up to the checkpoint was left out
("PROVEN COMPLETE up to the checkpoint"). A format-1 note (made before the state tree)
carries no state root: then the verdict says that leaving out the latest events is NOT
proven absent. checkpoint/checkpoint.json must name the signed note's tree size and root.
reports/*.json are unverified information.

LEAF FORMAT (a verifier can be written from this alone; all integers big-endian):
  leaf = "DMLEAF" (6 ASCII bytes) | 0x01 (format version, 1 byte)
       | notification_id (signed 64-bit) | originator_id (16 bytes, the UUID's bytes)
       | originator_version (signed 64-bit)
       | len(topic) (unsigned 32-bit) | topic (UTF-8)
       | len(state) (unsigned 64-bit) | state (the bytes of state_base64, decoded)
  leaf hash = SHA-256(0x00 | leaf); interior node = SHA-256(0x01 | left | right) (RFC 9162).
  The tree's leaves are all events of the system in notification_id order; the signed
  note's lines are: origin, tree size, base64 root, "time <UTC ISO 8601>", and in format 2
  "state <entries> <base64 state root>".
  state entry = "DMSTATE" (7 ASCII bytes) | 0x01 (format version, 1 byte)
       | aggregate id (16 bytes) | last version (unsigned 64-bit)
       | log position of its last event (unsigned 64-bit)          = 40 bytes
  The state tree's leaves are these entries sorted by aggregate id (bytes), hashed as above.
"""
