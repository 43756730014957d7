"""Snapshots whose state is JSON primitives, so any aggregate can be snapshotted.

An aggregate that holds dataclasses or enums declares ``encode_snapshot_state`` (to
primitives) and ``decode_snapshot_state`` (back); the default snapshot would either fail to
encode them or bring enums back as plain strings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventsourcing.domain import Snapshot


class PrimitiveSnapshot(Snapshot):
    """A snapshot that lets the aggregate translate its state to and from primitives."""

    @classmethod
    def take(cls, aggregate: Any) -> Any:
        """Snapshot the aggregate, its state encoded by the aggregate if it knows how."""
        snapshot = super().take(aggregate)
        encode = getattr(type(aggregate), "encode_snapshot_state", None)
        if encode is None:
            return snapshot
        return replace(snapshot, state=encode(dict(snapshot.state)))

    def mutate(self, _: None) -> Any:
        """Rebuild the aggregate and let it decode its own state."""
        aggregate = super().mutate(_)
        decode = getattr(type(aggregate), "decode_snapshot_state", None)
        if decode is not None:
            decode(aggregate.__dict__)
        return aggregate
