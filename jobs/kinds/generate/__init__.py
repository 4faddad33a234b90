"""Job kind "generate": COUNT plain images of one category (the default kind).

Its flags are the `assetgen submit` group's own (jobs.cli.submit); it has no subcommand.
"""

from jobs.kinds.base import JobKind
from jobs.kinds.generate.plan import plan_generate
from jobs.kinds.generate.render import create_renderer
from jobs.kinds.generate.spec import GenerateSpec

KIND = JobKind(
    name="generate",
    spec=GenerateSpec,
    plan=plan_generate,
    renderer=create_renderer,
    per_item_field="images_per_item",
)
