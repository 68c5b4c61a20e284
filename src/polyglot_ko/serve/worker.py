"""The decode worker: one thread owns the model and a `DecodeEngine`; requests hand it sequences through a queue."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from .api import APIError

log = logging.getLogger("polyglot_ko.serve")


@dataclass
class _Handle:
    """Bridges one sequence's events from the worker thread to the request's asyncio queue."""

    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    index: int
    sequence: Any = None
    error: str | None = None

    def _put(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, item)
        except RuntimeError:  # the loop is closed: the client is gone, nothing to tell
            pass

    def on_text(self, _seq, chunk: str) -> None:
        self._put(("text", self.index, chunk))

    def on_done(self, seq) -> None:
        self._put(("done", self.index, seq))

    def on_error(self, message: str) -> None:
        self.error = message
        self._put(("error", self.index, message))


class QueueFull(Exception):
    pass


class BatchWorker:
    """One thread, one `DecodeEngine`: takes sequences from an inbox and steps the batch while there is work.

    Nothing a request does can stop it: a failed step fails only the sequences in it (the engine is
    failure-safe), and anything else that raises is logged and fails what was in the engine, which is then
    replaced. The load it reports is derived from the sequences themselves (accepted and not finished), never
    kept as a hand-maintained counter that a failure could leave raised.
    """

    def __init__(self, generator, max_queue: int = 64, stall_seconds: float = 300.0):
        self.generator = generator
        self.engine = generator.new_engine()
        self.max_queue = max_queue
        self.stall_seconds = stall_seconds
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._live: set = set()  # sequences accepted here whose end has not been reported yet
        self.peak_batch = 0  # most sequences decoded in one step: > 1 proves requests share steps
        self.tokens_generated = 0
        self.failed_steps = 0
        self.last_error: str | None = None
        self.step_started: float | None = None  # monotonic time the step in progress began
        self.accepting = True
        self.thread = threading.Thread(target=self._loop, name="polyglot-ko-decode", daemon=True)

    def start(self) -> BatchWorker:
        self.thread.start()
        return self

    @property
    def in_system(self) -> int:
        """Sequences accepted and not finished (queued + running)."""
        with self._lock:
            return sum(1 for s in self._live if not s.finished)

    def submit(self, sequences: list) -> None:
        with self._lock:
            if not self.accepting:
                raise APIError(
                    503, "the server is shutting down; retry on another instance", "server_error", code="shutting_down"
                )
            self._live = {s for s in self._live if not s.finished}
            if len(self._live) + len(sequences) > self.max_queue:
                raise QueueFull()
            self._live.update(sequences)
        for s in sequences:
            self.inbox.put(s)

    def health(self) -> tuple[str, int]:
        """("ok", 200), or why not and 503: the worker thread died, is shutting down, or a step hangs."""
        if not self.thread.is_alive():
            return "worker_stopped", 503
        if not self.accepting:
            return "shutting_down", 503
        started = self.step_started
        if started is not None and time.monotonic() - started > self.stall_seconds:
            return "stalled", 503
        return "ok", 200

    def stats(self) -> dict:
        return {
            "running": len(self.engine.active),
            "waiting": len(self.engine.pending) + self.inbox.qsize(),
            "in_system": self.in_system,
            "peak_batch": self.peak_batch,
            "steps": self.engine.steps,
            "tokens_generated": self.tokens_generated,
            "failed_steps": self.failed_steps,
            "last_error": self.last_error,
        }

    def _report(self, seqs) -> None:
        for s in seqs:
            self.tokens_generated += len(s.out_ids)
            if s.error is not None:
                s.tag.on_error(f"generation failed: {type(s.error).__name__}: {s.error}")
            else:
                s.tag.on_done(s)
        with self._lock:
            self._live.difference_update(seqs)

    def _fail_everything(self, error: Exception) -> None:
        """Last resort when something outside a step raised: fail what the engine holds, start a new one."""
        engine, self.engine = self.engine, self.generator.new_engine()
        failed = [s for s in list(engine.active) + list(engine.admitting) + list(engine.pending) if not s.finished]
        for s in failed:
            s.fail(error)
        self._report(failed)

    def _iterate(self) -> None:
        engine = self.engine
        try:
            item = self.inbox.get(timeout=0.05) if not engine.has_work else self.inbox.get_nowait()
            engine.submit(item)
            while True:
                engine.submit(self.inbox.get_nowait())
        except queue.Empty:
            pass
        if not engine.has_work:
            return
        self.step_started = time.monotonic()
        failures = engine.failed_steps
        try:
            done = engine.step()
        finally:
            self.step_started = None
        if engine.failed_steps != failures:
            self.failed_steps += 1
            error = next(s.error for s in done if s.error is not None)
            self.last_error = f"{type(error).__name__}: {error}"
            log.error(
                "decode step failed (%s); its %d sequence(s) were ended with an error",
                self.last_error,
                sum(s.error is not None for s in done),
            )
        self.peak_batch = max(self.peak_batch, len(engine.active))
        if done:
            self._report(done)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._iterate()
            except Exception as e:  # the thread must outlive any failure, or every request would hang
                log.exception("decode worker failed outside a step")
                self.failed_steps += 1
                self.last_error = f"{type(e).__name__}: {e}"
                self._fail_everything(e)

    def shutdown(self, timeout: float = 0.0) -> None:
        """Stop accepting; give running sequences `timeout` seconds to finish, then cancel the rest."""
        with self._lock:
            self.accepting = False
        deadline = time.monotonic() + timeout
        while self.in_system and time.monotonic() < deadline:
            time.sleep(0.05)
        for s in list(self.engine.active) + list(self.engine.pending):
            s.cancel()
        end = time.monotonic() + 5
        while self.in_system and time.monotonic() < end:
            time.sleep(0.02)
        self._stop.set()
        self.thread.join(timeout=5)
