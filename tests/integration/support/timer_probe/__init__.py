"""A small nameko service for tests/integration/test_timers.py: it schedules
timers over RPC and fires them with `@timer_handler`, each fire leaving an
effect row (and an outbox event) in its own database."""
