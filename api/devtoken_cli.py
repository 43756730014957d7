"""``docmgmt dev-token``: a SoftHSM2 token with a leader's development key, for the agent."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shlex
from typing import Any

from docmgmt.settings import Mode, Settings


def add_dev_token_command(sub: Any) -> None:
    """Add ``dev-token`` to the command-line grammar."""
    t = sub.add_parser("dev-token", help="development only: a SoftHSM2 token holding a "
                                         "leader's development key, for `docmgmt agent`")
    t.add_argument("--username", required=True, help="the leader whose development key to use")
    t.add_argument("--label", required=True, help="the token's label (1 to 32 characters)")
    t.add_argument("--pin", help="the token's user PIN (else asked for)")
    t.add_argument("--origin", help="the docmgmt site the agent will serve (default: "
                                    "http://DOCMGMT_HOST:DOCMGMT_PORT)")
    t.add_argument("--replace", action="store_true",
                   help="delete a development token with the same label first")
    t.set_defaults(func=cmd_dev_token)


def _pin(args: argparse.Namespace) -> str:
    if args.pin:
        return str(args.pin)
    from api.cli import _password  # the same prompt (twice) or line of stdin

    return _password(argparse.Namespace(password_env=None))


def cmd_dev_token(args: argparse.Namespace, settings: Settings) -> int:
    """Put the leader's development key on a new SoftHSM2 token and register its
    certificate to them; print how to run the agent on it."""
    from docmgmt.bootstrap import build_write_side
    from docmgmt.identity.users import SYSTEM
    from docmgmt.outgoing import certificates
    from signing.devpki import DEV_MARKER, issue_user_cert
    from signing.devtoken import make_dev_token, softhsm_tools, user_certificate
    from signing.port import AgencyIdentity
    from signing.service import DevKeyRegistry

    if settings.mode is Mode.PRODUCTION or settings.keys_file is not None:
        raise SystemExit("dev-token copies development keys: refused in production mode and "
                         "with a keys file (use the leader's own token)")
    softhsm_tools()  # before anything is written: say what to install
    pin = _pin(args)
    write = build_write_side(settings)
    try:
        user = write.app.find_user(args.username)
        agency = write.app.get_agency(user.agency_id)
        pki = DevKeyRegistry(settings.pki_dir).pki(
            AgencyIdentity(agency.id, agency.code, agency.name))
        issue_user_cert(pki.directory, user.username, user.full_name)
        der, chain = user_certificate(pki.directory, user.username)
        registered = hashlib.sha256(der).hexdigest() in user.certificates
        if not registered:  # the agent method signs only with a registered certificate
            certificates.register_for(
                write.outgoing, SYSTEM, user.id, certificate=base64.b64encode(der).decode(),
                chain=[base64.b64encode(c).decode() for c in chain])
        token = make_dev_token(pki.directory, user.username,
                               softhsm_dir=settings.data_dir.resolve() / "softhsm",
                               label=args.label, pin=pin, replace=args.replace)
    finally:
        write.close()
    origin = args.origin or f"http://{settings.host}:{settings.port}"
    agent = (f"docmgmt agent --origin {shlex.quote(origin)} --module "
             f"{shlex.quote(str(token.module))} --token-label {shlex.quote(token.label)}")
    print(json.dumps({"note": DEV_MARKER, "user": user.username, "token_label": token.label,
                      "certificate_id": token.key_id, "fingerprint": token.fingerprint,
                      "softhsm2_conf": str(token.conf), "module": str(token.module),
                      "certificate_registered": "already" if registered else "now"},
                     ensure_ascii=False, indent=2))
    print(f"\nDEVELOPMENT token ({DEV_MARKER}). Run the agent next, in a terminal of its "
          "own (it keeps running):\n\n"
          f"  export SOFTHSM2_CONF={shlex.quote(str(token.conf))}\n  {agent}\n", flush=True)
    return 0
