"""RPC commands: a change, run once.

`@command` runs the decorated method in one unit of work, passed as its
first argument after `self`. When the call carries an idempotency key (the
gateway sends one for every mutating request: the client's
`Idempotency-Key`, or one of its own), the command's response is stored
with the change in the same transaction; a repeat of the call — the client
retrying, or RabbitMQ redelivering the request to another replica after the
first was killed mid-call — returns the stored response and changes nothing.

A call whose caller has stopped waiting (past its deadline: it already
answered 503) is refused before anything is written, so a 503 never hides a
write that lands later.
"""
from functools import wraps

from fieldwork_common.errors import Unavailable


def command(method=None, *, remember=True):
    """`@command`, or `@command(remember=False)` for a command whose answer
    must not be stored (it carries a secret shown once, such as a new
    token): the deadline is kept, but a repeat of the call runs again."""
    if method is None:
        return lambda method: command(method, remember=remember)

    @wraps(method)
    def run(self, *args, **kwargs):
        db = self.db
        call = db.call
        if call.expired():
            raise Unavailable("The caller stopped waiting for this request; it was not run.",
                              {"reason": "deadline_passed"})
        # one key may reach several commands (a request that changes two
        # things): each remembers its own answer
        key = (f"{method.__name__}:{call.idempotency_key}"
               if remember and call.idempotency_key else None)
        with db.unit_of_work() as uow:
            if key:
                stored = uow.claim(key, call.request_hash)
                if stored is not None:
                    return stored.response
            response = method(self, uow, *args, **kwargs)
            if call.expired():  # too late to answer: roll back rather than surprise the caller
                raise Unavailable("The caller stopped waiting for this request; it was undone.",
                                  {"reason": "deadline_passed"})
            if key:
                uow.remember(key, response)
            return response
    return run
