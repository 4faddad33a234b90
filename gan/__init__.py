"""assetgen.gan: the conditional GAN (models, data, training, checkpoints, sampling, metrics).

Pure ML: no Celery, boto3, SQLAlchemy or FastAPI imports here.
"""
from gan.checkpoint import (
    CheckpointError,
    default_model_path,
    init_generator_checkpoint,
    load_generator,
    save_generator,
)
from gan.data import FASHION_MNIST_CLASSES
from gan.sampling import sample

__all__ = [
    "CheckpointError",
    "FASHION_MNIST_CLASSES",
    "default_model_path",
    "init_generator_checkpoint",
    "load_generator",
    "sample",
    "save_generator",
]
