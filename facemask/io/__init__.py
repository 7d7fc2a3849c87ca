"""Sources (open anything the user points at) and sinks (video, JSONL, CSV, written atomically)."""
