"""BKL3xx: Django ORM."""
