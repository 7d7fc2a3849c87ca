"""Webhooks: each alert as an HTTP POST of JSON, retried with a doubling delay, signed with
HMAC-SHA256 when a secret is set (``X-Facemask-Signature: sha256=<hex digest of the body>``).

Deliveries run on one thread per endpoint, in order; :meth:`Webhook.close` waits (a little) for
what is queued.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from typing import Any

from ...config import WebhookConfig

log = logging.getLogger("facemask")

SIGNATURE_HEADER = "X-Facemask-Signature"
MAX_QUEUED = 1000


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: compare the header with the body's signature in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class Webhook:
    def __init__(self, cfg: WebhookConfig):
        self.cfg = cfg
        self.secret = cfg.secret or (os.environ.get(cfg.secret_env) if cfg.secret_env else None)
        self._queue: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED)
        self._cond = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self.delivered = 0
        self.failed = 0
        self.attempts = 0
        self._thread = threading.Thread(target=self._loop, name="facemask-webhook", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        with self._cond:
            self._queue.append(body)
            self._cond.notify_all()

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "facemask", "X-Facemask-Event": "alert"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        req = urllib.request.Request(self.cfg.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
            resp.read()

    def _deliver(self, body: bytes) -> bool:
        delay = self.cfg.backoff_s
        for attempt in range(self.cfg.retries + 1):
            self.attempts += 1
            try:
                self._post(body)
                return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == self.cfg.retries:
                    log.warning("webhook %s: not delivered after %d tries: %s", self.cfg.url, attempt + 1, exc)
                    return False
                if self._stop.wait(delay):
                    return False
                delay *= 2
        return False

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stop.is_set())
                if not self._queue:
                    return
                body = self._queue.popleft()
                self._busy = True
            ok = self._deliver(body)
            with self._cond:
                self._busy = False
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
                self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
