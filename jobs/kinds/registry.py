"""The job kinds: one line lists them; everything that lists kinds derives from it.

The spec union (``parse_spec``, ``spec_type``), the planners, the worker's renderers
(``create_kinds``), the manifest sections, the API's ``?kind=`` values, the contact sheet and the
CLI's ``submit`` subcommands all read this registry. To add a kind, see docs/kinds.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from jobs.kinds import ad_creative, catalogue_fill, generate
from jobs.kinds.base import JobKind, Kind, RenderDeps
from jobs.specs import parse_with, spec_union
from jobs.storage import Store


def registry(*kinds: JobKind) -> dict[str, JobKind]:
    out: dict[str, JobKind] = {}
    for kind in kinds:
        _add(out, kind)
    return out


def _add(kinds: dict[str, JobKind], kind: JobKind) -> None:
    if kinds.get(kind.name, kind) is not kind:
        raise ValueError(f"a different job kind {kind.name!r} is already registered")
    kinds[kind.name] = kind


KINDS = registry(generate.KIND, catalogue_fill.KIND, ad_creative.KIND)


def register(kind: JobKind) -> JobKind:
    """Add a kind at run time (a test's toy kind); registering the same kind again is a no-op.

    A process registers before it submits, runs a worker or builds its CLI."""
    _add(KINDS, kind)
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} (known: {', '.join(KINDS)})") from None


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


# ---------------------------------------------------------------- specs


def spec_type() -> Any:
    """The discriminated union of the registered kinds' specs (e.g. a FastAPI request body)."""
    return spec_union({name: kind.spec for name, kind in KINDS.items()})


@functools.lru_cache(maxsize=8)
def _adapter(specs: tuple[tuple[str, type[BaseModel]], ...]) -> TypeAdapter:
    return TypeAdapter(spec_union(dict(specs)))


def parse_spec(data: dict | str | bytes) -> Any:
    """Parse a spec of any registered kind from a dict or JSON text; raise SpecError naming the
    field."""
    specs = tuple((name, kind.spec) for name, kind in KINDS.items())
    return parse_with(_adapter(specs), kind_names(), data)


# ---------------------------------------------------------------- the worker's renderers


def create_kinds(
    store: Store | None = None, fetch: Callable[[str], Path] | None = None
) -> dict[str, Kind]:
    """Every registered kind's renderer, built once per worker process. ``store``: the bucket (ad
    creatives read brand logos from it); ``fetch(uri) -> folder``: a published model's local
    copy."""
    deps = RenderDeps(store, fetch)
    return {name: kind.renderer(deps) for name, kind in KINDS.items()}
