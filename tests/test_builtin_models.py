"""Built-in models (models/<name>/ of the repo, e.g. fashion-mnist-32): jobs and the CLI name
them without a version; they resolve to their folder, with the default upscaler, and an unknown
name's error lists them. In-process on SQLite + a local bucket."""

from __future__ import annotations

import shutil

import pytest

from gan.builtin_models import BUILTIN_MODELS
from gan.checkpoint import init_generator_checkpoint
from gan.data import FASHION_MNIST_CLASSES
from jobs import service
from jobs.model_registry import default_upscaler, resolve_model
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.runner import Pipeline
from jobs.settings import Settings
from jobs.specs import SpecError
from tests.support import FMNIST, FMNIST_DIR, assert_job_consistent, cli_invoker

FMNIST_SHA = "c3a111c3cd72aefdc155c286dd084aa90a2fb33c1002bce66fa0a4cc268d2bf9"  # its weights


@pytest.fixture
def env(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    return settings, sf, store


def test_the_job_system_and_gan_share_one_builtin_folder():
    assert Settings().builtin_models == BUILTIN_MODELS == FMNIST_DIR.parent


def test_fashion_mnist_32_resolves_to_its_folder_with_the_default_upscaler(env):
    settings, _, _ = env
    model = resolve_model(settings, FMNIST)
    assert (model.name, model.version, model.sha256) == (FMNIST, FMNIST_SHA[:12], FMNIST_SHA)
    assert model.uri == str(FMNIST_DIR.resolve())
    assert (model.class_names, model.image_size, model.channels) == (
        tuple(FASHION_MNIST_CLASSES),
        32,
        1,
    )
    assert model.upscaler is not None and model.upscaler == default_upscaler(settings)
    # its one version (the one a job records) names it too; any other is refused
    assert resolve_model(settings, f"{FMNIST}@{FMNIST_SHA[:12]}") == model
    with pytest.raises(SpecError) as err:
        resolve_model(settings, f"{FMNIST}@v2")
    assert err.value.field == "model"
    assert f"the one version '{FMNIST_SHA[:12]}'" in err.value.message


def test_an_unknown_name_lists_the_builtins(env):
    settings, _, _ = env
    with pytest.raises(SpecError) as err:
        resolve_model(settings, "fashion-mnist-64")
    assert "no published model 'fashion-mnist-64'" in err.value.message
    assert f"built-in models: {FMNIST}" in err.value.message
    with pytest.raises(SpecError) as err:
        resolve_model(settings, "Not A Name")
    assert f"is neither 'default', a built-in model ({FMNIST})" in err.value.message


def test_the_builtin_folder_is_a_setting(embedded_env, app_for, tmp_path):
    root = tmp_path / "builtins"
    init_generator_checkpoint(root / "mine", ["mug", "hat"], image_size=32, channels=3)
    (root / "empty").mkdir()  # no generator.json: not a model
    settings, _, _ = app_for({**embedded_env, "ASSETGEN_BUILTIN_MODELS": str(root)})
    assert (resolve_model(settings, "mine").class_names, settings.builtin_models) == (
        ("mug", "hat"),
        root,
    )
    with pytest.raises(SpecError, match="built-in models: mine"):
        resolve_model(settings, FMNIST)  # not a built-in here
    with pytest.raises(SpecError, match="built-in models: mine"):
        resolve_model(settings, "empty")


def test_a_job_naming_it_samples_what_default_did_when_default_was_it(
    embedded_env, app_for, tmp_path
):
    """default_model/ held this very checkpoint until the RGB model: a deployment whose default
    is a copy of it gets the same bytes by either name (the seeds depend on the spec only)."""
    folder = tmp_path / "as-default"
    shutil.copytree(FMNIST_DIR, folder)
    settings, sf, store = app_for({**embedded_env, "ASSETGEN_DEFAULT_MODEL": str(folder)})
    pipeline = Pipeline(settings, sf, store, ModelCache())
    spec = {"category": "sneaker", "count": 4, "images_per_item": 4, "seed": 9, "format": "png"}
    digests = {}
    for ref in ("default", FMNIST):
        job = service.submit(sf, settings, {**spec, "model": ref})
        assert (job.model_name, job.model_version, job.model_sha256) == (
            ref,
            FMNIST_SHA[:12],
            FMNIST_SHA,
        )
        assert [pipeline.run_item(item.id) for item in job.items] == ["succeeded"]
        manifest = assert_job_consistent(sf, store, job.id, 4)
        assert manifest["model"]["name"] == ref
        digests[ref] = [a.sha256 for a in service.job_assets(sf, job.id)]
    assert digests["default"] == digests[FMNIST] and len(set(digests[FMNIST])) == 4


def test_the_cli_takes_the_name_and_refuses_to_publish_under_it(embedded_env, app_for, tmp_path):
    app_for(embedded_env)
    invoke = cli_invoker(embedded_env)
    out = tmp_path / "gen"
    args = ("--category", "bag", "--count", "1", "--out", str(out))
    done = invoke("generate", "--model", FMNIST, *args)
    assert done.exit_code == 0, done.output
    assert (out / "bag" / "00000.png").is_file()
    unknown = invoke("generate", "--model", "nope", *args)
    assert unknown.exit_code != 0 and f"built-in models: {FMNIST}" in unknown.output
    for name in (FMNIST, "default"):
        refused = invoke("models", "publish", str(FMNIST_DIR), "--name", name)
        assert refused.exit_code == 1 and "publish under another name" in refused.output
