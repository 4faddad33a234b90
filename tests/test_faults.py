"""Fault injection: workers killed or frozen, Redis and PostgreSQL restarted, S3 failing or slow,
duplicate and hostile messages. Real processes on loopback, bounded in time.

Every test ends with the same invariant: every accepted job is terminal, and bucket keys ==
asset rows == manifest entries == the expected count, with no duplicates.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from gan.checkpoint import CheckpointError, load_generator
from jobs import service
from jobs.bench.procs import child_pids
from jobs.broker.celery import RUN_ITEM_TASK, create_celery, create_publisher, queue_for
from jobs.db.tables import WorkItem
from jobs.outbox import relay
from tests.faults import FaultProxy, PostgresServer, RedisServer, stop_process
from tests.support import assert_job_consistent, child_env, run_cli, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(700)]

FAST_RECOVERY = {
    "ASSETGEN_LEASE_SECONDS": "6",
    "ASSETGEN_REPUBLISH_AFTER_SECONDS": "3",
    "ASSETGEN_SWEEP_INTERVAL_SECONDS": "0.5",
    "ASSETGEN_BATCH_SIZE": "4",
    "ASSETGEN_MAX_ATTEMPTS": "6",
}
TERMINAL = ("succeeded", "failed", "partially_failed", "cancelled")


class Fleet:
    """Worker and sweeper processes, each in its own process group (to kill a worker whole)."""

    def __init__(self, tmp_path):
        self.tmp_path, self.procs = tmp_path, []

    def spawn(self, env: dict, *args: str) -> subprocess.Popen:
        log = (self.tmp_path / f"proc{len(self.procs)}-{args[0]}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli.main", *args],
            env=child_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def worker(self, env: dict, concurrency: int = 1) -> subprocess.Popen:
        return self.spawn(env, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency))

    def sweeper(self, env: dict) -> subprocess.Popen:
        return self.spawn(env, "sweeper")

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_process(proc)

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("proc*.log"))
        )


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path)
    yield f
    f.stop_all()


@pytest.fixture
def fenv(prod_env):
    return {**prod_env, **FAST_RECOVERY}


def submit(settings, sf, publish=True, **spec):
    job = service.submit(sf, settings, spec)
    if publish:
        relay(sf, create_publisher(create_celery(settings), settings))
    return job


def wait_terminal(sf, job_ids, timeout=180):
    def done():
        return all(service.get_job(sf, j).status in TERMINAL for j in job_ids)

    wait_until(done, timeout, interval=0.2, what=f"{len(job_ids)} job(s) to finish")


def check_invariant(sf, store, expected: dict[str, int]) -> None:
    for job_id, count in expected.items():
        assert_job_consistent(sf, store, job_id, count)


def running_child(worker: subprocess.Popen, sf, item_ids) -> int:
    """Wait until the worker's pool child is mid-item (some images recorded), return its pid."""

    def mid_item():
        with sf() as s:
            rows = s.execute(
                select(WorkItem.state, WorkItem.done_images).where(WorkItem.id.in_(item_ids))
            ).all()
        return any(state == "running" and 0 < done for state, done in rows)

    wait_until(mid_item, 120, interval=0.05, what="an item in progress")
    return child_pids(worker.pid)[0]


def attempts(sf, job_id) -> list[int]:
    with sf() as s:
        return list(
            s.scalars(
                select(WorkItem.attempt).where(WorkItem.job_id == job_id).order_by(WorkItem.index)
            )
        )


def test_1_sigkill_pool_child_mid_item(fenv, app_for, fleet):
    settings, sf, store = app_for(fenv)
    job = submit(settings, sf, category="bag", count=240, images_per_item=120)
    worker = fleet.worker(fenv)
    fleet.sweeper(fenv)
    os.kill(running_child(worker, sf, [i.id for i in job.items]), signal.SIGKILL)
    wait_terminal(sf, [job.id])
    check_invariant(sf, store, {job.id: 240})
    assert max(attempts(sf, job.id)) >= 2  # the killed item was claimed again and redone


def test_2_sigkill_whole_worker_then_a_new_worker_finishes(fenv, app_for, fleet):
    settings, sf, store = app_for(fenv)
    job = submit(settings, sf, category="coat", count=240, images_per_item=60)
    first = fleet.worker(fenv)
    fleet.sweeper(fenv)
    running_child(first, sf, [i.id for i in job.items])
    os.killpg(first.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    fleet.worker(fenv)
    wait_terminal(sf, [job.id], timeout=120)
    recovery = time.monotonic() - killed_at
    check_invariant(sf, store, {job.id: 240})
    # recovery time: the lease (6 s) + a sweep + the remaining work, well inside the bound
    assert recovery < 90, recovery


def test_3_redis_restarts_empty_with_work_queued(fenv, app_for, fleet, tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    env = {**fenv, "ASSETGEN_BROKER_URL": redis.url}
    settings, sf, store = app_for(env)
    job = submit(settings, sf, category="sandal", count=50, images_per_item=1)
    assert relay(sf, lambda *_: None) == 0  # all 50 messages were published to Redis ...
    redis.kill()
    redis.start()  # ... and are gone now: a Redis without persistence restarts empty
    try:
        fleet.worker(env)
        fleet.sweeper(env)
        wait_terminal(sf, [job.id])
    finally:
        fleet.stop_all()
        redis.kill()
    check_invariant(sf, store, {job.id: 50})


def test_4_redis_down_at_submit(fenv, app_for, fleet, tmp_path):
    redis = RedisServer(tmp_path / "redis")  # not started: nothing listens on its port
    env = {**fenv, "ASSETGEN_BROKER_URL": redis.url}
    settings, sf, store = app_for(env)
    job_ids = []
    for i in range(10):
        out = run_cli(
            env, "submit", "--category", "dress", "--count", "3", "--seed", str(i), timeout=60
        )
        assert out.returncode == 0, out.stderr
        job_ids.append(out.stdout.strip())
    redis.start()
    try:
        fleet.worker(env)
        fleet.sweeper(env)
        wait_terminal(sf, job_ids)
    finally:
        fleet.stop_all()
        redis.kill()
    check_invariant(sf, store, {j: 3 for j in job_ids})


def test_5_frozen_worker_wakes_up_and_writes_nothing(fenv, app_for, fleet):
    settings, sf, store = app_for(fenv)
    job = submit(settings, sf, category="shirt", count=200, images_per_item=200)
    zombie = fleet.worker(fenv)
    child = running_child(zombie, sf, [job.items[0].id])
    os.kill(child, signal.SIGSTOP)
    fleet.sweeper(fenv)
    fleet.worker(fenv)
    wait_terminal(sf, [job.id])
    assert attempts(sf, job.id) == [2]
    os.kill(child, signal.SIGCONT)
    # Frozen between two writes, it is fenced at the next one; frozen inside a transaction, the
    # server ended that transaction after a lease (its locks would hide the item from the sweeper),
    # so its commit fails, the task retries and finds the item no longer claimable.
    # The retry is a new message: either worker may take it, so look for the zombie's task in
    # every log.
    zombie_tasks = re.findall(
        r"run_item\[([0-9a-f-]+)\] received", (fleet.tmp_path / "proc0-worker.log").read_text()
    )

    def fenced_out():
        logs = "".join(
            p.read_text(errors="replace") for p in fleet.tmp_path.glob("proc*-worker.log")
        )
        return any(
            re.search(rf"run_item\[{t}\] succeeded in .*'(fenced|not-claimable)'", logs)
            for t in zombie_tasks
        )

    wait_until(fenced_out, 60, what="the zombie's task to notice it was fenced out")
    check_invariant(sf, store, {job.id: 200})


@pytest.fixture
def own_postgres():
    pg = PostgresServer()
    pg.start()
    yield pg
    pg.stop("fast")
    pg.remove()


def test_6_postgres_restart_mid_run(fenv, app_for, fleet, own_postgres):
    env = {**fenv, "ASSETGEN_DATABASE_URL": own_postgres.url}
    settings, sf, store = app_for(env)
    jobs = [
        submit(settings, sf, category="trouser", count=60, images_per_item=10, seed=i)
        for i in range(4)
    ]
    worker = fleet.worker(env)
    fleet.sweeper(env)
    running_child(worker, sf, [it.id for j in jobs for it in j.items])
    own_postgres.stop("immediate")
    own_postgres.start()
    wait_terminal(sf, [j.id for j in jobs])
    check_invariant(sf, store, {j.id: 60 for j in jobs})


@pytest.fixture
def proxy(s3_endpoint):
    p = FaultProxy(s3_endpoint)
    yield p
    p.close()


def test_7_s3_503s_then_ok_and_persistent_503_fails_then_retry(fenv, app_for, fleet, proxy, bucket):
    settings, sf, store = app_for(
        fenv
    )  # the checks read the bucket directly, not through the proxy
    env = {**fenv, "ASSETGEN_S3_ENDPOINT_URL": proxy.endpoint, "ASSETGEN_S3_MAX_ATTEMPTS": "3"}
    fleet.worker(env)
    proxy.fail_next = 2
    flaky = submit(settings, sf, category="bag", count=8)
    wait_terminal(sf, [flaky.id])
    check_invariant(sf, store, {flaky.id: 8})

    proxy.fail_always = True
    down = submit(settings, sf, category="bag", count=8, seed=1)
    wait_terminal(sf, [down.id])
    job = service.get_job(sf, down.id)
    assert job.status == "failed"
    assert [i.error_code for i in service.failed_items(sf, down.id)] == ["storage_unavailable"]
    proxy.fail_always = False
    retried = run_cli(env, "jobs", "retry", down.id, "--failed-only")
    assert retried.returncode == 0, retried.stderr
    wait_terminal(sf, [down.id])
    check_invariant(sf, store, {down.id: 8})


def test_8_s3_slower_than_the_client_timeout(fenv, app_for, fleet, proxy):
    settings, sf, store = app_for(fenv)
    env = {**fenv, "ASSETGEN_S3_ENDPOINT_URL": proxy.endpoint, "ASSETGEN_S3_READ_TIMEOUT": "1"}
    proxy.delay_s, proxy.delay_next = 2.5, 3  # the PUTs land, but their answers come too late
    fleet.worker(env)
    job = submit(settings, sf, category="pullover", count=6)
    wait_terminal(sf, [job.id])
    check_invariant(sf, store, {job.id: 6})
    assert proxy.delay_next == 0


def test_9_same_message_twice_concurrently(fenv, app_for, fleet):
    settings, sf, store = app_for(fenv)
    job = submit(settings, sf, publish=False, category="sneaker", count=64, images_per_item=64)
    publish = create_publisher(create_celery(settings), settings)
    for _ in range(3):
        publish("run_item", {"item_id": job.items[0].id, "priority": "normal"})
    fleet.worker(fenv, concurrency=3)
    wait_terminal(sf, [job.id])
    check_invariant(sf, store, {job.id: 64})
    assert attempts(sf, job.id) == [1]


class Payload:
    """Unpickling this would create a marker file: it must never happen."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_10_pickle_message_and_pickle_checkpoint_execute_nothing(
    fenv, app_for, fleet, tmp_path, tiny_model
):
    settings, sf, store = app_for(fenv)
    marker = tmp_path / "pwned"
    app = create_celery(settings)
    app.send_task(
        RUN_ITEM_TASK,
        args=[Payload(marker)],
        queue=queue_for(settings, "normal"),
        serializer="pickle",
    )
    fleet.worker(fenv)
    job = submit(settings, sf, category="bag", count=2)  # queued behind the hostile message
    wait_terminal(sf, [job.id])
    check_invariant(sf, store, {job.id: 2})
    assert not marker.exists()
    assert "untrusted content" in fleet.logs() or "disallowed" in fleet.logs().lower()

    evil = tmp_path / "evil"
    evil.mkdir()
    data = pickle.dumps(Payload(marker))
    (evil / "generator.safetensors").write_bytes(data)
    meta = json.loads((tiny_model / "generator.json").read_text())
    (evil / "generator.json").write_text(
        json.dumps({**meta, "sha256": hashlib.sha256(data).hexdigest()})
    )
    with pytest.raises(CheckpointError):
        load_generator(evil)
    bad_job = submit(settings, sf, category="bag", count=2, model=str(evil))
    wait_terminal(sf, [bad_job.id])
    assert service.failed_items(sf, bad_job.id)[0].error_code == "model_invalid"
    assert not marker.exists()


@pytest.mark.slow
def test_11_soak_with_a_worker_killed_every_few_seconds(fenv, app_for, fleet, capsys):
    settings, sf, store = app_for(fenv)
    started = time.monotonic()
    jobs = [
        submit(
            settings, sf, publish=False, category="ankle-boot", count=10, images_per_item=5, seed=i
        )
        for i in range(200)
    ]
    relay(sf, create_publisher(create_celery(settings), settings))
    workers = [fleet.worker(fenv), fleet.worker(fenv)]
    fleet.sweeper(fenv)
    kills = restarts = 0
    deadline = time.monotonic() + 600

    def all_done():
        return all(service.get_job(sf, j.id).status in TERMINAL for j in jobs)

    while not all_done():
        assert time.monotonic() < deadline, "soak did not finish in 600 s"
        time.sleep(3)
        victim = workers[kills % 2]
        if kills % 4 == 3:  # every fourth time the whole worker, then a fresh one
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            workers[kills % 2] = fleet.worker(fenv)
            restarts += 1
        else:  # otherwise the pool process doing the work (its parent forks a new one)
            for pid in child_pids(victim.pid):
                os.kill(pid, signal.SIGKILL)
        kills += 1
    wall = time.monotonic() - started
    check_invariant(sf, store, {j.id: 10 for j in jobs})
    with capsys.disabled():
        print(
            f"\nsoak: 200 jobs / 2000 images, 2 workers, {kills} kills ({restarts} whole workers): "
            f"{wall:.1f} s wall"
        )
