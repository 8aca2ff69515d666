"""BKL5xx: SQLAlchemy."""
