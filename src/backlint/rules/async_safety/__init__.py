"""BKL1xx: async safety (blocking the event loop)."""
