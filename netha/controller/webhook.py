"""Webhook notifications: a JSON POST per event, retried, sent from a background thread."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)


class Webhook:
    def __init__(self, url: str | None, retries: int = 5, timeout: float = 3.0):
        self.url = url
        self.retries = retries
        self.timeout = timeout
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
            self._thread.start()

    def send(self, event: str, **fields: Any) -> None:
        if not self.url:
            return
        self._q.put({"event": event, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields})

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            doc = self._q.get()
            if doc is None:
                return
            body = json.dumps(doc, default=str).encode()
            for attempt in range(self.retries):
                try:
                    req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
                    with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                        if 200 <= resp.status < 300:
                            break
                except (urllib.error.URLError, OSError) as exc:
                    log.info("webhook %s: attempt %d failed: %s", doc["event"], attempt + 1, exc)
                time.sleep(min(5.0, 0.2 * 2**attempt))
            else:
                log.warning("webhook %s: gave up after %d attempts", doc["event"], self.retries)
