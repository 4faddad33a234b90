"""The Celery configuration the reliability design depends on."""

from __future__ import annotations

import pytest

from jobs.broker.celery import create_celery
from jobs.settings import load_settings
from worker.app import gpu_memory_exceeded


def test_celery_is_json_only_late_ack_prefetch_one(tmp_path):
    settings = load_settings(home=tmp_path, broker_url="redis://127.0.0.1:6379/0")
    conf = create_celery(settings).conf
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_cancel_long_running_tasks_on_connection_loss
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.worker_max_memory_per_child == settings.worker_max_memory_mb * 1024


@pytest.mark.gpu
def test_gpu_memory_growth_is_detected():
    import torch

    block = torch.empty(200 * 2**20, dtype=torch.uint8, device="cuda")
    assert gpu_memory_exceeded(64) and not gpu_memory_exceeded(1 << 20)
    del block
