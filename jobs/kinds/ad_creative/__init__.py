"""Job kind "ad_creative": VARIANTS products of a category (or a catalogued SKU's), each rendered in
every requested channel format with copy and a brand kit."""

from jobs.kinds.ad_creative.cli import ad_creative
from jobs.kinds.ad_creative.plan import plan_ad_creative
from jobs.kinds.ad_creative.render import create_renderer
from jobs.kinds.ad_creative.sheet import contact_sheet, sheet_title
from jobs.kinds.ad_creative.spec import AdCreativeSpec
from jobs.kinds.base import JobKind

KIND = JobKind(
    name="ad_creative",
    spec=AdCreativeSpec,
    plan=plan_ad_creative,
    renderer=create_renderer,
    sheet_title=sheet_title,
    contact_sheet=contact_sheet,
    submit_command=ad_creative,
)
