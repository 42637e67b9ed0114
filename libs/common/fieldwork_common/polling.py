"""The loop of the extensions that poll their service's database in a
managed thread (the outbox relay, the timer poller): `poll()` every
`poll_interval` seconds, or at once when woken; a failure (the broker or
the database down) backs off from 0.4 s, doubling up to 5 s, and is logged
with its traceback the first time in a row only."""
import logging

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class PollingLoop:
    """Mixed into a nameko Extension that sets `self._running` and
    `self._wakeup` (a threading.Event) and runs `self._loop` in a managed
    thread; it defines `poll()` and may define `after_failure()`."""

    poll_interval = 0.5
    what = "polling"  # for the log: "outbox relay of interventions"

    def poll(self):
        raise NotImplementedError

    def after_failure(self):
        """What to drop after a failed poll (a broken connection)."""

    def _loop(self):
        import eventlet
        failures = 0
        while self._running:
            self._wakeup.wait(self.poll_interval)
            self._wakeup.clear()
            if not self._running:
                break
            try:
                self.poll()
                failures = 0
            except Exception:  # broker or database down: back off, try again
                failures += 1
                log.warning("%s failed (%d in a row)", self.what, failures, exc_info=failures == 1)
                self.after_failure()
                eventlet.sleep(min(MAX_BACKOFF, 0.2 * 2 ** failures))
