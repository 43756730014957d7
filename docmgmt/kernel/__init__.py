"""The shared kernel: the event store's load/save/commit, the projection machinery, blobs,
the database and the time every stage uses."""
