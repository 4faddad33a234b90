"""gan: the conditional GAN (networks, data, training, checkpoints, sampling, evaluation).

Pure ML: no Celery, boto3, SQLAlchemy or FastAPI imports here. This package module imports
nothing, so a light submodule (``gan.imaging``) doesn't pull in torch: import from the submodules.
"""
