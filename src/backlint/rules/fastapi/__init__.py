"""BKL2xx: FastAPI."""
