"""The spec of an ad-creative job (jobs.layout lays the creatives out)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jobs.layout import LayoutError
from jobs.layout.formats import resolve_format
from jobs.settings import Priority
from jobs.specs import MAX_SKU_CHARS, CallbackUrl, Candidates, Colour, Format, Upscale

MAX_VARIANTS = 50  # variants (products, each the best of `candidates` samples) per ad-creative job
# channel formats per job (named, or custom WxH within jobs.layout.formats' bounds)
MAX_AD_FORMATS = 10
MAX_HEADLINE_CHARS, MAX_SUBLINE_CHARS, MAX_CTA_CHARS, MAX_BADGE_CHARS = 60, 90, 20, 12
MAX_LOGO_KEY_CHARS = 256
LOGO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_LOGO_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _copy_text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise ValueError(
            "control characters (newlines, tabs) are not allowed: layouts wrap the text themselves"
        )
    return text


def _logo_key(key: str) -> str:
    if not _LOGO_KEY_RE.match(key) or ".." in key.split("/") or "//" in key:
        raise ValueError("must be a bucket key of A-Z a-z 0-9 . _ - / (no '..' or empty segments)")
    if not key.lower().endswith(LOGO_EXTENSIONS):
        raise ValueError(f"must name an image ending in {', '.join(LOGO_EXTENSIONS)}")
    return key


def _format_name(name: str) -> str:
    try:
        resolve_format(name)
    except LayoutError as exc:
        raise ValueError(exc.message) from None
    return name


def _unique(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("lists a format twice")
    return names


_CopyText = AfterValidator(_copy_text)


class AdCopy(BaseModel):
    """The words of a creative; each is wrapped and sized per format (jobs.layout)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: Annotated[str, Field(min_length=1, max_length=MAX_HEADLINE_CHARS), _CopyText]
    subline: Annotated[str, Field(min_length=1, max_length=MAX_SUBLINE_CHARS), _CopyText] | None = (
        None
    )
    # the call-to-action button
    cta: Annotated[str, Field(min_length=1, max_length=MAX_CTA_CHARS), _CopyText]
    # a price or a badge ("$49", "-30%", "New")
    badge: Annotated[str, Field(min_length=1, max_length=MAX_BADGE_CHARS), _CopyText] | None = None


class BrandKit(BaseModel):
    """Colours (text pairs must reach WCAG AA 4.5:1, checked at submit) and an optional logo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    background: Colour = "#FFFFFF"
    text: Colour = "#1A1A1A"  # headline and subline, on the background
    accent: Colour = "#1F4E99"  # button and badge fill
    accent_text: Colour = "#FFFFFF"  # button and badge letters, on the accent
    # An image in the job's bucket (PNG/JPEG/WebP, transparency kept), e.g. "brand/acme/logo.png".
    logo: (
        Annotated[
            str, Field(min_length=1, max_length=MAX_LOGO_KEY_CHARS), AfterValidator(_logo_key)
        ]
        | None
    ) = None


class AdCreativeSpec(BaseModel):
    """VARIANTS products of a category, each rendered in every format.

    Stored as jobs/<job_id>/<variant>-<format>.<ext>.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    kind: Literal["ad_creative"]
    model: str = Field("default", min_length=1, max_length=200)
    # Exactly one of: a class of the model, or a SKU whose category a catalogue-fill job has
    # recorded.
    category: str | None = Field(None, min_length=1, max_length=100)
    sku: str | None = Field(None, min_length=1, max_length=MAX_SKU_CHARS)
    variants: int = Field(1, ge=1, le=MAX_VARIANTS)
    # Generator samples per variant: each is scored (jobs.quality: the model's classifier) and the
    # best is drawn, so every variant shows its category as clearly as the model can.
    candidates: Candidates = 4
    # Named formats (square, portrait, story, landscape, medium-rectangle, leaderboard,
    # skyscraper) or "WxH".
    formats: Annotated[
        list[Annotated[str, Field(max_length=20), AfterValidator(_format_name)]],
        Field(min_length=1, max_length=MAX_AD_FORMATS),
        AfterValidator(_unique),
    ]
    # "copy" on the wire (the Python name would shadow BaseModel.copy)
    copy_: AdCopy = Field(alias="copy")
    brand: BrandKit = BrandKit()
    file_format: Format = "jpeg"
    # The worker's x4 upscaler before each variant is drawn into its formats: auto where a format's
    # product slot is more than 2x the sample's native size (the largest slot decides, one upscale
    # serves every format), off (Lanczos only), x4.
    upscale: Upscale = "auto"
    # Base of the per-variant seeds; default: the job id (a fresh job gives fresh products).
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    priority: Priority = "normal"
    callback_url: CallbackUrl | None = None
