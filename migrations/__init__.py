"""Alembic migrations; ``target_metadata`` comes from ``jobs.db.tables``."""
