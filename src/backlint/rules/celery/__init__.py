"""BKL9xx: Celery."""
