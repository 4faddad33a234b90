"""How much work each phase of the benchmark does (the default run and the --quick one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PHASES = (
    "generator",
    "bare_loop",
    "upscale",
    "catalogue_bare",
    "catalogue_submit",
    "pipeline",
    "catalogue_pipeline",
    "small_jobs",
    "urgent",
    "scaling",
    "naive",
)


@dataclass(frozen=True)
class Sizes:
    # Generator batch sizes tried; each is timed for at least min_seconds (after one warm-up call).
    batch_sizes: tuple[int, ...] = (1, 16, 64, 256, 1024)
    min_seconds: float = 1.0
    # Images of the bare in-process loop and of the one large pipeline job (the target workload).
    bare_images: int = 2000
    pipeline_images: int = 2000
    # Many small jobs (ad-creative requests): how many, and images each.
    small_jobs: int = 500
    small_job_images: int = 4
    # One job per size; wall time from submit to done, fitted with a straight line.
    scaling: tuple[int, ...] = (250, 1000, 4000)
    # The bulk backfill the urgent job has to overtake, and the urgent job's size.
    bulk_images: int = 4000
    urgent_images: int = 4
    # Products of the Shopify export whose catalogue-fill submit is timed (read, checked against
    # the bucket, accepted in one transaction, then cancelled), and the catalogue objects the
    # bucket holds then (real photos for one product in five, the rest other SKUs').
    catalogue_rows: int = 50_000
    catalogue_objects: int = 50_000
    # Catalogue tiles (SKUs) of the catalogue workload, with the spec's defaults: the best of 4
    # candidates by classifier score, an 800 px JPEG tile; by the plain loop and by one
    # catalogue-fill job; each run twice, with upscale off and with auto (the spec's default).
    catalogue_tiles: int = 2000
    # Generator samples the upscaler is timed on (x4 passes of 128 px samples, and the passes of
    # an 800 px catalogue tile), each for at least min_seconds.
    upscale_images: int = 32
    # Images through the naive baseline (one task each: slow, so fewer).
    naive_images: int = 200
    # Category of every generated image and the output format (32 px tiles as PNG).
    category: str | None = None
    image_format: str = "png"
    # Bounds on the waits (bounded polling): a phase, and a worker's start-up with its first image.
    phase_timeout_s: float = 1800
    start_timeout_s: float = 300

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT = Sizes()
QUICK = Sizes(
    batch_sizes=(16, 64),
    min_seconds=0.05,
    bare_images=64,
    pipeline_images=64,
    small_jobs=8,
    small_job_images=4,
    scaling=(16, 32, 64),
    bulk_images=128,
    urgent_images=4,
    naive_images=4,
    catalogue_rows=200,
    catalogue_objects=100,
    catalogue_tiles=16,
    upscale_images=4,
    phase_timeout_s=120,
    start_timeout_s=120,
)
