"""/v1/models: the models a job spec may name."""

from fastapi import APIRouter

from jobs.api.deps import Deps, Reader
from jobs.api.schemas import ModelOut, model_version_out
from jobs.model_registry import builtin_names, published_versions, read_checkpoint_meta

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=list[ModelOut])
def list_models(who: Reader, deps: Deps):
    """The default model, the built-in ones and every published model with its versions and
    evaluation numbers."""
    settings = deps.settings
    default = read_checkpoint_meta(settings.default_model.resolve())
    out = [ModelOut(name="default", versions=[model_version_out(default)])]
    for name in builtin_names(settings):
        meta = read_checkpoint_meta(settings.builtin_models / name)
        out.append(ModelOut(name=name, versions=[model_version_out(meta)]))
    for name, versions in published_versions(deps.store).items():
        out.append(ModelOut(name=name, versions=[model_version_out(m) for m in versions]))
    return out
