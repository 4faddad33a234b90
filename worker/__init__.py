"""Workers: the Celery app factory and thin tasks, the generation pipeline, rendering, storage."""
