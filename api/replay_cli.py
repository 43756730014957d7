"""``docmgmt replay``: print a document's state as of a version or a moment, as JSON."""

from __future__ import annotations

import argparse
import json

from docmgmt.settings import Settings


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the document from its events and print it (read-only; no HTTP server)."""
    from docmgmt.audit.replay import replay_document
    from docmgmt.bootstrap import build_write_side

    write = build_write_side(settings)
    try:
        state = replay_document(write.app, args.document_id, version=args.version,
                                at=args.as_of)
    finally:
        write.close()
    print(json.dumps(state, ensure_ascii=False, indent=2))
    return 0
