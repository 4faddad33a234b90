"""Ad-creative jobs in-process (SQLite + a local bucket + the real pipeline): submit-time rejections
name the field and write nothing; planning; determinism; the logo from the bucket; the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from jobs import service
from jobs.db.tables import Job
from jobs.kinds.ad_creative.render import LogoError, decode_logo
from jobs.kinds.ad_creative.spec import MAX_AD_FORMATS, MAX_VARIANTS
from jobs.kinds.registry import create_kinds
from jobs.layout.compose import layout
from jobs.layout.formats import FORMATS
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.runner import Pipeline
from jobs.seeds import image_seed
from jobs.specs import CANDIDATES_MAX, SpecError
from tests.support import FMNIST, cli_invoker

SHIPPED_MODEL = FMNIST  # the built-in Fashion-MNIST model, trained: real products, not noise
COPY = {
    "headline": "Walk further in winter",
    "subline": "Warm lining, grippy soles",
    "cta": "Shop now",
    "badge": "$89",
}


def spec(**over) -> dict:
    return {
        "kind": "ad_creative",
        "category": "ankle-boot",
        "variants": 2,
        "formats": ["square", "leaderboard"],
        "copy": COPY,
        "seed": 11,
        **over,
    }


@pytest.fixture
def env(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    return (
        settings,
        sf,
        store,
        Pipeline(settings, sf, store, ModelCache(), kinds=create_kinds(store)),
    )


def run_job(pipeline: Pipeline, job) -> list[str]:
    return [pipeline.run_item(item.id) for item in job.items]


def rejected(sf, settings, bad: dict) -> SpecError:
    with pytest.raises(SpecError) as err:
        service.submit(sf, settings, bad)
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0  # nothing written
    return err.value


def test_low_contrast_is_rejected_with_the_measured_ratio(env):
    settings, sf, _, _ = env
    err = rejected(sf, settings, spec(brand={"background": "#FFFFFF", "text": "#777777"}))
    assert err.field == "brand.text" and "4.47:1" in err.message and "4.5:1" in err.message
    err = rejected(sf, settings, spec(brand={"accent": "#FFD700", "accent_text": "#FFFFFF"}))
    assert err.field == "brand.accent_text" and "1.40:1" in err.message


@pytest.mark.parametrize(
    "copy, fmt, field",
    [
        ({"headline": "Supercalifragilisticexpialidocious-ness"}, "skyscraper", "copy.headline"),
        ({"cta": "Wwwwwwwwwwwwwwwwwwww"}, "skyscraper", "copy.cta"),
        (
            {"subline": "Hypoallergenicmicrofibreinsulation lining"},
            "medium-rectangle",
            "copy.subline",
        ),
    ],
)
def test_copy_that_cannot_fit_is_rejected_naming_field_and_format(env, copy, fmt, field):
    settings, sf, _, _ = env
    err = rejected(sf, settings, spec(formats=["square", fmt], copy={**COPY, **copy}))
    assert (
        err.field == field
        and f"format {fmt} ({FORMATS[fmt].width}x{FORMATS[fmt].height})" in err.message
    )
    layout(FORMATS["square"], {**COPY, **copy})  # the same copy fits the large format


@pytest.mark.parametrize(
    "over, field, says",
    [
        ({"variants": MAX_VARIANTS + 1}, "variants", f"less than or equal to {MAX_VARIANTS}"),
        ({"candidates": 0}, "candidates", "greater than or equal to 1"),
        (
            {"candidates": CANDIDATES_MAX + 1},
            "candidates",
            f"less than or equal to {CANDIDATES_MAX}",
        ),
        (
            {"formats": [f"{w}x100" for w in range(200, 200 + MAX_AD_FORMATS + 1)]},
            "formats",
            f"at most {MAX_AD_FORMATS}",
        ),
        ({"formats": ["square", "banner"]}, "formats.1", "not a format"),
        ({"formats": ["square", "square"]}, "formats", "twice"),
        ({"formats": ["5000x500"]}, "formats.0", "90..2400"),
        ({"formats": []}, "formats", "at least 1"),
        ({"copy": {**COPY, "headline": "x" * 61}}, "copy.headline", "at most 60"),
        ({"copy": {**COPY, "subline": "x" * 91}}, "copy.subline", "at most 90"),
        ({"copy": {**COPY, "cta": "x" * 21}}, "copy.cta", "at most 20"),
        ({"copy": {**COPY, "badge": "x" * 13}}, "copy.badge", "at most 12"),
        ({"copy": {**COPY, "headline": "Two\nlines"}}, "copy.headline", "control characters"),
        ({"copy": {**COPY, "headline": "Buy 你好"}}, "copy.headline", "no glyph"),
        ({"copy": {"headline": "Hi"}}, "copy.cta", "Field required"),
        ({"brand": {"text": "black"}}, "brand.text", "#"),
        ({"brand": {"logo": "../secrets.png"}}, "brand.logo", "bucket key"),
        ({"brand": {"logo": "brand/logo.svg"}}, "brand.logo", ".png"),
        ({"category": "hat"}, "category", "not a class"),
        ({"file_format": "gif"}, "file_format", "png"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_spec_limits_name_the_field(env, over, field, says):
    settings, sf, _, _ = env
    err = rejected(sf, settings, spec(**over))
    assert err.field == field and says in err.message, err


def test_plan_k_samples_per_variant_and_variants_times_formats_objects(env):
    settings, sf, _, _ = env
    job = service.submit(sf, settings, spec(variants=10, formats=["square", "story", "640x480"]))
    assert job.total_images == 30 and job.spec["candidates"] == 4
    assert [(it.params["start"], it.params["count"], it.params["samples"]) for it in job.items] == [
        (0, 4, 16),
        (4, 4, 16),
        (8, 2, 8),
    ]
    assert job.spec["copy"] == {**COPY} and job.spec["brand"]["background"] == "#FFFFFF"


def test_same_seed_same_creative_bytes(env):
    settings, sf, store, pipeline = env
    runs = []
    for seed in (5, 5, 6):
        job = service.submit(sf, settings, spec(seed=seed, file_format="png", model=SHIPPED_MODEL))
        assert set(run_job(pipeline, job)) <= {"succeeded", "not-claimable"}
        runs.append(
            {
                (a.attrs["variant"], a.attrs["format"]): (a.sha256, a.seed)
                for a in service.job_assets(sf, job.id)
            }
        )
    assert runs[0] == runs[1] and len(runs[0]) == 4
    assert not {h for h, _ in runs[0].values()} & {h for h, _ in runs[2].values()}
    seeds = runs[0]
    assert (
        seeds[(0, "square")][1] == seeds[(0, "leaderboard")][1] != seeds[(1, "square")][1]
    )  # one product per variant


def test_each_variant_draws_its_best_scored_candidate(env):
    settings, sf, _, pipeline = env
    chosen = {}
    for k in (4, 1):
        job = service.submit(sf, settings, spec(variants=3, candidates=k, model=SHIPPED_MODEL))
        assert set(run_job(pipeline, job)) <= {"succeeded", "not-claimable"}
        chosen[k] = {
            (a.attrs["variant"], a.attrs["format"]): a for a in service.job_assets(sf, job.id)
        }
    for (variant, fmt), a in chosen[4].items():
        scores = a.attrs["candidate_scores"]
        assert len(scores) == 4 and a.attrs["score_method"].startswith("classifier:")
        assert a.attrs["candidate"] == scores.index(max(scores)) and a.attrs["score"] == max(scores)
        assert a.seed == image_seed(11, a.attrs["candidate"], variant)  # the chosen one is drawn
        one = chosen[1][(variant, fmt)]  # one candidate: the variant's seed of old jobs
        assert one.seed == image_seed(11, 0, variant) and one.attrs["candidate_scores"] == [
            scores[0]
        ]
    best = [a.attrs["score"] for (v, f), a in chosen[4].items() if f == "square"]
    assert sum(best) > sum(a.attrs["score"] for (v, f), a in chosen[1].items() if f == "square")


def test_logo_is_read_from_the_bucket(env):
    settings, sf, store, pipeline = env
    logo = io.BytesIO()
    Image.new("RGBA", (200, 100), (220, 20, 60, 255)).save(logo, "PNG")
    store.put_new("brand/acme/logo.png", logo.getvalue(), "image/png", {})
    job = service.submit(
        sf,
        settings,
        spec(
            variants=1, formats=["square"], file_format="png", brand={"logo": "brand/acme/logo.png"}
        ),
    )
    assert run_job(pipeline, job) == ["succeeded"]
    (asset,) = service.job_assets(sf, job.id)
    pixels = np.asarray(Image.open(io.BytesIO(store.get(asset.key))))
    box = layout(FORMATS["square"], COPY, logo=True).images["logo"]
    assert (pixels[box.y + box.h // 2, box.x + box.w // 2] == (220, 20, 60)).all()


def test_missing_logo_fails_the_item_with_a_reason(env):
    settings, sf, store, pipeline = env
    job = service.submit(sf, settings, spec(variants=1, brand={"logo": "brand/none.png"}))
    assert run_job(pipeline, job) == ["failed"]
    (failed,) = service.failed_items(sf, job.id)
    assert "brand.logo" in failed.error_message and "brand/none.png" in failed.error_message
    assert service.get_job(sf, job.id).status == "failed"


def test_a_logo_that_is_not_an_image_or_too_large_is_refused(monkeypatch):
    with pytest.raises(LogoError, match="brand/x.png.*not a readable image"):
        decode_logo("brand/x.png", b"<svg/>")
    png = io.BytesIO()
    Image.new("RGB", (300, 200)).save(png, "PNG")
    monkeypatch.setattr("jobs.kinds.ad_creative.render.MAX_LOGO_PIXELS", 300 * 200 - 1)
    with pytest.raises(LogoError, match="300x200, over 59999 pixels"):
        decode_logo("brand/x.png", png.getvalue())


def test_cli_builds_the_spec_from_a_file_and_flags(env, embedded_env, tmp_path):
    settings, sf, _, _ = env
    base = tmp_path / "ad.json"
    base.write_text(
        json.dumps(
            {
                "category": "bag",
                "copy": {"headline": "From the file", "cta": "Buy"},
                "brand": {"accent": "#000000"},
            }
        )
    )
    invoke = cli_invoker(embedded_env)
    out = invoke(
        "submit",
        "ad-creative",
        "--spec",
        str(base),
        "--formats",
        "square,300x250",
        "--variants",
        "3",
        "--subline",
        "From a flag",
        "--accent-text",
        "#FFFF00",
        "--file-format",
        "webp",
        "--json",
    )
    assert out.exit_code == 0, out.output
    job = service.get_job(sf, json.loads(out.output)["id"])
    assert (job.kind, job.total_images, job.spec["formats"], job.spec["file_format"]) == (
        "ad_creative",
        6,
        ["square", "300x250"],
        "webp",
    )
    assert (
        job.spec["copy"]["headline"] == "From the file"
        and job.spec["copy"]["subline"] == "From a flag"
    )
    assert (job.spec["brand"]["accent"], job.spec["brand"]["accent_text"]) == ("#000000", "#FFFF00")
    bad = invoke(
        "submit",
        "ad-creative",
        "--category",
        "bag",
        "--formats",
        "leaderboard",
        "--headline",
        "Hi",
        "--cta",
        "Go",
        "--text-colour",
        "#EEEEEE",
    )
    assert bad.exit_code != 0 and "brand.text" in bad.output and "1.16:1" in bad.output


def test_a_sku_whose_category_is_known(env):
    settings, sf, store, pipeline = env
    service.submit(
        sf,
        settings,
        {
            "kind": "catalogue_fill",
            "rows": [{"sku": "BOOT-1", "category": "Boots"}],
            "mapping": {"Boots": "ankle-boot"},
        },
    )
    with sf() as s:
        jobs_before = s.scalar(select(func.count()).select_from(Job))
    job = service.submit(
        sf, settings, {**spec(variants=1, formats=["square"]), "category": None, "sku": "BOOT-1"}
    )
    with sf() as s:  # resolved in the job's transaction, stored on its items
        assert [(it.params["category"], it.params["label"]) for it in s.get(Job, job.id).items] == [
            ("ankle-boot", 9)
        ]
    assert run_job(pipeline, job) == ["succeeded"]
    (asset,) = service.job_assets(sf, job.id)
    assert (asset.category, asset.attrs["sku"], store.head(asset.key)["sku"]) == (
        "ankle-boot",
        "BOOT-1",
        "BOOT-1",
    )
    for bad, field in [
        ({"sku": "NOPE-1"}, "sku"),
        ({"sku": "../x"}, "sku"),
        ({"sku": "BOOT-1", "category": "bag"}, "category"),
    ]:
        with pytest.raises(SpecError) as err:
            service.submit(sf, settings, {**spec(), "category": None, **bad})
        assert err.value.field == field, err.value
    with sf() as s:
        assert (
            s.scalar(select(func.count()).select_from(Job)) == jobs_before + 1
        )  # the rejected wrote nothing
    with pytest.raises(SpecError, match="exactly one"):
        service.submit(sf, settings, {**spec(), "category": None})
