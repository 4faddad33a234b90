"""Fault injection on loopback: our own Redis and PostgreSQL servers to kill, an HTTP proxy in
front of the moto S3 server that answers 503s or stalls, and process helpers."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support import free_port, port_open, wait_until


class RedisServer:
    """A Redis of the test's own (no persistence) that a test may kill and restart."""

    def __init__(self, workdir: Path):
        self.port, self.workdir, self.proc = free_port(), workdir, None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 20, what="redis to start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        wait_until(lambda: not port_open(self.port), 10, what="redis to stop")


class PostgresServer:
    """A PostgreSQL cluster of the test's own, so a test can stop it hard and start it again."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        # outside pytest's root-only tmp folders: the server runs as the postgres user
        self.workdir = Path(tempfile.mkdtemp(prefix="assetgen-pg-"))
        shutil.chown(self.workdir, "postgres", "postgres")
        self.port, self.dir = free_port(), self.workdir / "pgdata"
        self._as_pg(
            [str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres"]
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_pg(self, cmd: list[str]) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        self._as_pg(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir),
                "-w",
                "-l",
                str(self.dir / "log"),
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                "start",
            ]
        )

    def stop(self, mode: str = "immediate") -> None:
        self._as_pg([str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"])

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


class FaultProxy:
    """An HTTP reverse proxy to the S3 server that can answer 503 or stall responses."""

    def __init__(self, target: str):
        self.target = target.removeprefix("http://")
        self.fail_next = 0  # answer this many requests with 503 SlowDown-style errors
        self.fail_always = False
        self.delay_next = 0  # stall this many responses (after forwarding the request)
        self.delay_s = 0.0
        self.requests = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault, delay = proxy._decide()
                if fault:
                    payload = (
                        b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                    )
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.target, timeout=30)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("expect", "connection")
                }
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): exactly the case under test

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _decide(self) -> tuple[bool, float]:
        with self.lock:
            self.requests += 1
            if self.fail_always or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                return True, 0.0
            if self.delay_next > 0:
                self.delay_next -= 1
                return False, self.delay_s
            return False, 0.0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
