"""Job kind "catalogue_fill": a synthetic image for every SKU of a catalogue that has none, the best
of K candidates; the SKUs' states are kept in SQL (`assetgen catalogue status`)."""

from jobs.kinds.base import JobKind
from jobs.kinds.catalogue_fill import state
from jobs.kinds.catalogue_fill.cli import catalogue, catalogue_fill
from jobs.kinds.catalogue_fill.plan import plan_catalogue_fill
from jobs.kinds.catalogue_fill.render import create_renderer
from jobs.kinds.catalogue_fill.sheet import contact_sheet, sheet_title
from jobs.kinds.catalogue_fill.spec import CatalogueFillSpec

KIND = JobKind(
    name="catalogue_fill",
    spec=CatalogueFillSpec,
    plan=plan_catalogue_fill,
    renderer=create_renderer,
    per_item_field="skus_per_item",
    unstored_fields=frozenset({"rows", "catalogue"}),
    manifest_section=state.manifest_section,
    report=state.report_counts,
    report_key="catalogue",
    show=state.show_left_out,
    on_recorded=state.on_recorded,
    sheet_title=sheet_title,
    contact_sheet=contact_sheet,
    submit_command=catalogue_fill,
    commands=(catalogue,),
)
