"""Synchronise on conditions, never on fixed sleeps."""
import time


def wait_until(condition, timeout=20.0, interval=0.05, message="condition"):
    """Poll `condition()` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
