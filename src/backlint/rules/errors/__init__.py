"""BKL7xx: errors."""
