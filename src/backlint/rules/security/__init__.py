"""BKL6xx: security."""
