"""Gateway callbacks and status queries: store raw, verify, apply; unmatched money."""
