"""`python -m gan`: the ML commands (train, generate, evaluate, tone, upscale ...) alone.

Commands: train, generate, evaluate, bench-gan, classifier, tone, train-upscaler, upscale,
upscale-eval.

The same commands as `assetgen train` etc., without the service stack (no SQLAlchemy, Celery or
boto3 imported), for a training machine that has only torch, click, Pillow and tqdm. Model names
are checkpoint paths or `default` here (published names need the bucket: use `assetgen`).
"""

from __future__ import annotations

import click

from gan.cli import (
    bench_gan_command,
    classifier_command,
    generate_command,
    train_command,
)
from gan.evaluate_cli import evaluate_command
from gan.tone_cli import tone_command
from gan.upscale_cli import train_upscaler_command, upscale_command, upscale_eval_command


def build() -> click.Group:
    group = click.Group("python -m gan", help=__doc__.splitlines()[0])
    for name, command in (
        ("train", train_command),
        ("generate", generate_command),
        ("evaluate", evaluate_command),
        ("bench-gan", bench_gan_command),
        ("classifier", classifier_command),
        ("tone", tone_command),
        ("train-upscaler", train_upscaler_command),
        ("upscale", upscale_command),
        ("upscale-eval", upscale_eval_command),
    ):
        group.add_command(command, name)
    return group


if __name__ == "__main__":
    build()()
