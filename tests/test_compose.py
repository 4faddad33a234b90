"""docker-compose.yml and the Dockerfile refer only to things that exist in the project."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml

from jobs.cli.main import main
from jobs.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def resolve_command(argv: list[str]) -> click.Command:
    """The click command an `assetgen ...` argv would run (fails on an unknown subcommand)."""
    assert argv[0] == "assetgen"
    cmd: click.Command = main
    for word in argv[1:]:
        if word.startswith("-") or not isinstance(cmd, click.Group):
            break
        assert word in cmd.commands, f"`assetgen {' '.join(argv[1:])}`: no subcommand {word!r}"
        cmd = cmd.commands[word]
    return cmd


def test_services_reference_existing_things():
    services = compose()["services"]
    assert {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "migrate",
        "worker",
        "sweeper",
        "api",
        "webhooks",
    } <= set(services)
    settings_fields = {f"ASSETGEN_{name.upper()}" for name in Settings.model_fields}
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").is_file()
            cmd = resolve_command(svc["command"])
            params = {o for p in cmd.params for o in p.opts}
            assert all(a in params for a in svc["command"] if a.startswith("--")), svc["command"]
        for key in svc.get("environment", {}):
            if key.startswith("ASSETGEN_"):
                assert key in settings_fields, f"{name}: {key} is not a setting"
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
    assert "--appendonly" in services["redis"]["command"]
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["worker"]["environment"]["ASSETGEN_STORAGE_URL"].startswith("s3://assetgen")
    assert "mb --ignore-existing local/assetgen" in services["minio-init"]["command"][0]


def test_dockerfile_copies_existing_paths():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if m := re.match(r"COPY (.+) \S+$", line):
            for src in m.group(1).split():
                assert (ROOT / src).exists(), src
