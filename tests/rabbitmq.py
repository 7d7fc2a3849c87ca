"""A real rabbitmq-server (Debian's package) in a temp folder on free loopback ports.

Used by tests/test_broker.py and scripts/bench_broker.py. Everything the node writes (database,
logs, Erlang cookie) stays in ``base``; the management plugin is off; ``stop()`` / ``start()``
restart the same node (durable queues survive), ``close()`` stops it and its epmd.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SERVER_DIRS = ("/usr/lib/rabbitmq/bin", "/usr/lib/rabbitmq/sbin")


def find_tool(name: str) -> str | None:
    for d in SERVER_DIRS:  # the package's own scripts: /usr/sbin/rabbitmq-server switches user and folder
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RabbitServer:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port, dist, epmd = free_port(), free_port(), free_port()
        self.epmd_port = epmd
        (self.base / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.base),  # the Erlang cookie
            "RABBITMQ_NODENAME": f"facemask-test-{self.port}@localhost",
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),  # none: defaults
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist),
            "ERL_EPMD_PORT": str(epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        server = find_tool("rabbitmq-server")
        if server is None:
            raise RuntimeError("rabbitmq-server not found: apt-get install rabbitmq-server")
        log = open(self.base / "server.out", "ab")
        self.proc = subprocess.Popen([server], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.base)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self.proc.returncode}); see {self.base / 'server.out'}")
            if self.ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"rabbitmq-server not ready after {timeout:.0f} s; see {self.base / 'server.out'}")

    def ready(self) -> bool:
        import logging

        import pika

        logging.getLogger("pika").setLevel(logging.CRITICAL)  # refused connections while it starts

        try:
            conn = pika.BlockingConnection(pika.URLParameters(self.url + "?socket_timeout=2&connection_attempts=1"))
        except Exception:
            return False
        conn.close()
        return True

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None:
            return
        ctl = find_tool("rabbitmqctl")
        if ctl is not None and self.proc.poll() is None:
            subprocess.run([ctl, "-q", "shutdown"], env=self.env, capture_output=True, timeout=timeout, check=False)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            epmd = shutil.which("epmd") or "/usr/bin/epmd"
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env, capture_output=True,
                           timeout=30, check=False)
