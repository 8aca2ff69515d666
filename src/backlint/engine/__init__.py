"""The engine: file discovery, project index, per-file runs, suppression."""
