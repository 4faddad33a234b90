"""What a job kind is, and what each kind makes from generator samples.

A kind lives in one folder under ``jobs.kinds`` and describes itself with one ``JobKind``: its spec,
its planner, its renderer, its manifest section, report, contact-sheet view, recording hook and
CLI commands. ``jobs.kinds.registry`` lists the kinds; everything that lists kinds derives from it
(docs/kinds.md says how to add one).

A renderer (``Kind``) turns a claimed work item into units, one per deliverable (an image, an ad
variant with all its formats, a catalogue SKU). A unit needs one generator sample per seed; the
runner samples the units of many items in shared batches and hands each unit its pixels to render
into objects. A unit whose ``upscale`` is set goes through the upscale stage first: the kind's
``choose`` (where it has one: catalogue fill and ad creatives keep the best of K) picks the
samples to keep, the runner upscales those (x4, ``upscale`` passes, batched on the worker's
device), and ``render`` gets the upscaled pixels and does its usual final resize.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import click
import numpy as np
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Job
from jobs.kinds.planning import Plan
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings
from jobs.storage import Store


@dataclass(frozen=True)
class Claim:
    """A worker's lease on one work item; ``attempt`` is the fencing token."""

    item_id: int
    attempt: int
    job_id: str
    index: int
    params: dict
    spec: dict
    model_uri: str
    model_sha256: str
    model_name: str
    model_version: str
    # The job's upscaler (jobs.model_registry.ResolvedUpscaler's fields; None: the job upscales
    # nothing).
    upscaler_uri: str | None = None
    upscaler_sha256: str | None = None
    upscaler_name: str | None = None
    upscaler_version: str | None = None


@dataclass(frozen=True)
class Unit:
    claim: Claim
    n: int  # the unit's position in its job: its keys and seeds derive from it
    label: int  # the generator class to sample
    seeds: tuple[int, ...]  # one sample per seed (catalogue fill: K candidates)
    keys: frozenset[str]  # every key it writes: a retry skips a unit whose keys are all recorded
    # kind-specific (a variant's formats, a SKU; catalogue fill's choice once made)
    params: dict = field(default_factory=dict, compare=False)
    # x4 upscaler passes before rendering (0: none), planned at submit (jobs.kinds.planning)
    upscale: int = 0


def upscale_of(claim: Claim) -> int:
    """The x4 passes the item's plan chose (items planned before the upscaler: none)."""
    return int(claim.params.get("upscale", 0))


def upscaler_metadata(unit: Unit) -> dict[str, str]:
    """Object metadata naming the upscaler of an upscaled unit's objects (else nothing)."""
    c = unit.claim
    if not unit.upscale:
        return {}
    return {
        "upscaler": str(c.upscaler_name),
        "upscaler-version": str(c.upscaler_version),
        "upscaler-sha256": str(c.upscaler_sha256),
        "upscale": f"x{4**unit.upscale}",
    }


def upscaler_attrs(unit: Unit) -> dict:
    """The manifest's facts about an upscaled unit's objects (else nothing)."""
    c = unit.claim
    if not unit.upscale:
        return {}
    return {
        "upscaler": {
            "name": c.upscaler_name,
            "version": c.upscaler_version,
            "sha256": c.upscaler_sha256,
            "passes": unit.upscale,
        }
    }


@dataclass(frozen=True)
class Output:
    """One object to store and record."""

    key: str
    data: bytes
    content_type: str
    metadata: dict[str, str]  # object metadata (S3 user metadata: short ASCII strings)
    width: int
    height: int
    seed: int
    category: str
    attrs: dict | None = None  # kind-specific facts for the manifest (variant, format, sku, score)


class Kind(Protocol):
    """A kind's renderer, built once per worker process."""

    def units(self, claim: Claim) -> list[Unit]:
        """Every unit of a claimed item, in order (the runner skips those already recorded)."""

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        """pixels: uint8 (len(unit.seeds), H, W, C) samples, one per seed -> the objects to
        store. An upscaled unit's pixels are what its ``choose`` kept, upscaled (4**upscale
        times H and W).

        A kind may also define ``choose(unit, pixels) -> (unit, pixels)``: the samples of a unit
        that is to be upscaled that go on to the upscale stage (the returned unit may carry the
        choice in its params). Without it every sample is upscaled."""


@dataclass(frozen=True)
class RenderDeps:
    """What renderers may need from the worker process."""

    store: Store | None = None  # the bucket (ad creatives read brand logos from it)
    # uri -> a published model's local folder (catalogue fill reads the classifier shipped with it)
    fetch: Callable[[str], Path] | None = None


class CliApp(Protocol):
    """The CLI's context object (``click.pass_obj``) as kind commands use it."""

    @property
    def settings(self) -> Settings: ...

    def session_factory(self) -> sessionmaker[Session]: ...

    def submit_spec(self, spec: dict, wait: bool, as_json: bool) -> None:
        """Submit, publish, print the job and, with wait, follow it to its end (exits)."""


def seed_base(claim: Claim) -> str | int:
    """The spec's seed, or the job id (a fresh job gives fresh images)."""
    seed = claim.spec.get("seed")
    return claim.job_id if seed is None else seed


# ---------------------------------------------------------------- contact-sheet views

Src = Callable[[str], str]  # a bucket key -> the (HTML-escaped) link to its object from the page


def escape(value: Any) -> str:
    return html.escape(str(value))


def image_grid(manifest: dict, src: Src) -> str:
    """The default view: every asset as a small tile."""
    return "".join(
        f'<img class="tile" src="{src(a["key"])}" title="{escape(a["key"])} seed '
        f'{a["seed"]}" alt="{escape(a["category"])}">'
        for a in manifest["assets"]
    )


def category_title(manifest: dict) -> str:
    """The default section title: the spec's category, else the kind."""
    return manifest["spec"].get("category", manifest["kind"])


# ---------------------------------------------------------------- the kind


def _no_section(sf: sessionmaker[Session], job: Job) -> dict:
    return {}


def _no_report(sf: sessionmaker[Session], job: Job) -> dict | None:
    return None


def _nothing_to_record(s: Session, claim: Claim, fresh: list[dict]) -> None:
    return None


@dataclass(frozen=True)
class JobKind:
    """One job kind, as the registry lists it."""

    name: str  # the spec's ``kind`` tag, stored as jobs.kind
    spec: type[BaseModel]  # the pydantic model (its ``kind`` field: Literal[name])
    # A validated spec -> its work items, checked against the model, before anything is written.
    plan: Callable[[Any, ResolvedModel, Settings], Plan]
    renderer: Callable[[RenderDeps], Kind]  # built once per worker process
    # The spec field that sets units per work item: named when a job has too many items.
    per_item_field: str | None = None
    # Spec fields stored elsewhere (in their own tables), not in the job's spec column.
    unstored_fields: frozenset[str] = frozenset()
    # The kind's own sections of the manifest, read from SQL when it is written.
    manifest_section: Callable[[sessionmaker[Session], Job], dict] = _no_section
    # A summary shown with the job (API, `jobs show` under report_key), or None.
    report: Callable[[sessionmaker[Session], Job], dict | None] = _no_report
    report_key: str = "report"
    # More sections `assetgen jobs show` prints (catalogue fill: the rows it skipped or rejected).
    show: Callable[[sessionmaker[Session], Job], dict] = _no_section
    # Kind state kept with newly recorded assets, in the worker's fenced transaction.
    on_recorded: Callable[[Session, Claim, list[dict]], None] = _nothing_to_record
    # The job's section in the contact sheet: its title and its body (manifest, src -> HTML).
    sheet_title: Callable[[dict], str] = category_title
    contact_sheet: Callable[[dict, Src], str] = image_grid
    submit_command: click.Command | None = None  # `assetgen submit <name>`
    commands: tuple[click.Command, ...] = ()  # top-level commands (e.g. `assetgen catalogue`)
