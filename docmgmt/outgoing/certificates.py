"""Signing certificates registered to users: a leader's signature is accepted only from a
certificate registered to them. An admin registers one (uploaded), or the user proves they
hold its key by signing a challenge the server issued; either way it must chain to a trust
root and be usable for signatures now."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from docmgmt.domain.common import Role
from docmgmt.domain.errors import InvalidInputError, UserNotFoundError
from docmgmt.domain.user import User
from docmgmt.kernel.principal import Principal
from docmgmt.kernel.store import CommandResult
from docmgmt.outgoing.context import OutgoingContext
from signing.port import CertificateDict

CHALLENGE_MINUTES = 10
CHALLENGE_PREFIX = b"docmgmt certificate challenge\n"
MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_CHAIN = 8
MAX_SIGNATURE_BYTES = 2048


def decode_base64(value: str, field: str, limit: int = MAX_CERTIFICATE_BYTES) -> bytes:
    """Base64 (or PEM) text to bytes, bounded: a certificate, a challenge, a signature
    value; a 422 naming the field otherwise."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        text = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{field} is not base64 or PEM", field=field) from None
    if not der or len(der) > limit:
        raise InvalidInputError(f"{field} is empty or longer than {limit} bytes", field=field)
    return der


def certificates_of(user: User) -> list[dict[str, Any]]:
    """A user's registered certificates, newest first, without the DER bytes."""
    listed = [{k: v for k, v in c.items() if k not in ("der", "chain")}
              for c in user.certificates.values()]
    return sorted(listed, key=lambda c: str(c.get("registered_at", "")), reverse=True)


def my_certificates(ctx: OutgoingContext, who: Principal) -> list[dict[str, Any]]:
    """The caller's registered certificates."""
    return certificates_of(ctx.store.get_user(who.user_id))


def user_certificates(ctx: OutgoingContext, who: Principal, user_id: UUID
                      ) -> list[dict[str, Any]]:
    """An admin reads a user's registered certificates."""
    who.require(Role.ADMIN)
    return certificates_of(ctx.store.load(User, user_id, UserNotFoundError))


def _mac(ctx: OutgoingContext, body: bytes) -> bytes:
    return hmac.new(ctx.challenge_key, body, hashlib.sha256).digest()


def issue_challenge(ctx: OutgoingContext, who: Principal) -> dict[str, str]:
    """A challenge for the caller to sign with the key of the certificate they register:
    bound to them, valid for a few minutes, checked without being stored. The key signs
    ``digest``, the SHA-256 of the challenge's message (the challenge less its 32-byte MAC)."""
    expires = ctx.clock() + timedelta(minutes=CHALLENGE_MINUTES)
    body = json.dumps({"user_id": str(who.user_id), "expires_at": expires.isoformat(),
                       "nonce": secrets.token_hex(16)}, sort_keys=True).encode()
    message = CHALLENGE_PREFIX + body
    token = base64.b64encode(message + _mac(ctx, message)).decode("ascii")
    # What the key signs, ready for software that signs digests (the local agent, CSC).
    digest = base64.b64encode(hashlib.sha256(message).digest()).decode("ascii")
    return {"challenge": token, "digest": digest, "expires_at": expires.isoformat()}


def _checked_challenge(ctx: OutgoingContext, who: Principal, challenge: str) -> bytes:
    """The challenge's message, if it is ours, the caller's and still valid."""
    raw = decode_base64(challenge, "challenge", limit=4096)
    message, mac = raw[:-32], raw[-32:]
    if not message.startswith(CHALLENGE_PREFIX) or not hmac.compare_digest(
            mac, _mac(ctx, message)):
        raise InvalidInputError("the challenge was not issued by this server", field="challenge")
    body = json.loads(message[len(CHALLENGE_PREFIX):])
    if body["user_id"] != str(who.user_id):
        raise InvalidInputError("the challenge was issued to someone else", field="challenge")
    if datetime.fromisoformat(body["expires_at"]) <= ctx.clock():
        raise InvalidInputError("the challenge expired: ask for a new one", field="challenge")
    return message


def _described(ctx: OutgoingContext, der: bytes, chain: list[bytes]) -> CertificateDict:
    return ctx.signer.check_certificate(der, chain)


def register_own(ctx: OutgoingContext, who: Principal, *, certificate: str, chain: list[str],
                 challenge: str, signature: str) -> CommandResult:
    """The caller registers a certificate by signing the challenge with its key."""
    who.require(Role.LEADER)
    der = decode_base64(certificate, "certificate")
    chain_der = [decode_base64(c, "chain") for c in chain[:MAX_CHAIN]]
    message = _checked_challenge(ctx, who, challenge)
    value = decode_base64(signature, "signature", MAX_SIGNATURE_BYTES)
    ctx.signer.verify_possession(der, message, value)
    described = _described(ctx, der, chain_der)
    user = ctx.store.get_user(who.user_id)
    user.register_certificate(certificate=described, der=base64.b64encode(der).decode(),
                              chain=[base64.b64encode(c).decode() for c in chain_der],
                              method="possession", registered_at=ctx.clock(),
                              actor=who.actor)
    return ctx.store.commit(user)


def register_for(ctx: OutgoingContext, who: Principal, user_id: UUID, *, certificate: str,
                 chain: list[str]) -> CommandResult:
    """An admin registers a certificate to a user (uploaded from the issuer's files)."""
    who.require(Role.ADMIN)
    user = ctx.store.load(User, user_id, UserNotFoundError)
    der = decode_base64(certificate, "certificate")
    chain_der = [decode_base64(c, "chain") for c in chain[:MAX_CHAIN]]
    described = _described(ctx, der, chain_der)
    user.register_certificate(certificate=described, der=base64.b64encode(der).decode(),
                              chain=[base64.b64encode(c).decode() for c in chain_der],
                              method="admin", registered_at=ctx.clock(), actor=who.actor)
    return ctx.store.commit(user)


def remove(ctx: OutgoingContext, who: Principal, user_id: UUID, fingerprint: str,
           reason: str) -> CommandResult:
    """An admin, or the holder, stops a certificate from being used to sign."""
    if user_id != who.user_id:
        who.require(Role.ADMIN)
    user = ctx.store.load(User, user_id, UserNotFoundError)
    user.remove_certificate(fingerprint.lower(), reason, who.actor)
    return ctx.store.commit(user)
