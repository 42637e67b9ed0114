"""Local copies of another service's data, fed by its events.

A service that needs a little of another's data keeps it in a table of its
own; `store_copy` upserts the event's `data` into such a table (only the
columns the table has), once per event.

Events of different types travel in different queues, so they arrive in
any order. A copy that carries the source's `version` (optimistic-locking
counter, bumped by every change) never goes back in time:

- `store_copy(..., version_column="version")` upserts only over a copy whose
  version is older than the event's;
- `apply_change` applies an event that changes some columns of an existing
  copy only when the event is newer than the copy (`decide_change` is the
  rule, plain logic); when the copy does not exist yet and the event needs
  one, it raises `CopyMissing`, so that the consumer's bounded retries
  redeliver it once the creating event has arrived;
- `follow_assignment` is `apply_change` for `intervention.assigned`.
"""
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

#: What `decide_change` answers.
APPLY = "apply"    # the event is newer than the copy: change the copy
IGNORE = "ignore"  # nothing to do (stale event, or no copy and none needed)
WAIT = "wait"      # the copy does not exist yet but the event needs one: retry later


class CopyMissing(Exception):
    """An event changes a copy that does not exist yet (its creating event
    is still on its way): raised so that the event is redelivered later."""


def decide_change(stored_version, event_version, copy_expected=True):
    """What to do with an event at `event_version` that changes a copy.

    `stored_version` is the copy's version, None when there is no copy;
    `copy_expected` says whether the copy must exist for this event (False
    for an event published with the creating one, which carries the same
    state: the copy will be made from the creating event).
    """
    if stored_version is None:
        return WAIT if copy_expected else IGNORE
    if event_version is not None and int(event_version) > int(stored_version):
        return APPLY
    return IGNORE


def store_copy(db, envelope, model, consumer, version_column=None):
    """Upsert the event's `data` into `model`'s table, once per event.

    With `version_column`, an existing copy is overwritten only when its
    version is older than the event's (a late creating event never undoes a
    newer change)."""
    columns = {c.name for c in model.__table__.columns}
    values = {k: v for k, v in envelope["data"].items() if k in columns}
    with db.unit_of_work() as uow:
        if not uow.first_time(envelope, consumer):
            return False
        key = [c.name for c in model.__table__.primary_key.columns]
        statement = insert(model).values(**values)
        where = None
        if version_column is not None:
            column = model.__table__.c[version_column]
            where = sa.or_(column.is_(None), column < statement.excluded[version_column])
        uow.session.execute(
            statement.on_conflict_do_update(
                index_elements=key, where=where,
                set_={k: v for k, v in values.items() if k not in key}))
    return True


def apply_change(db, envelope, model, consumer, key, values, version, copy_expected=True,
                 version_column="version"):
    """Apply `values` (columns of `model`) to the copy whose primary key is
    `key`, once per event, when `version` is newer than the copy's; the
    copy's version becomes `version`. Returns what `decide_change` decided
    (APPLY or IGNORE, or IGNORE for a redelivery); raises `CopyMissing` when
    it decided WAIT (nothing is recorded, so the redelivery runs again)."""
    table = model.__table__
    [key_column] = table.primary_key.columns
    column = table.c[version_column]
    with db.unit_of_work() as uow:
        if not uow.first_time(envelope, consumer):
            return IGNORE
        row = uow.session.execute(
            sa.select(column).where(key_column == key).with_for_update()).first()
        stored = None if row is None else (row[0] if row[0] is not None else 0)
        decision = decide_change(stored, version, copy_expected)
        if decision == WAIT:
            raise CopyMissing(f"{table.name} {key} is not known yet; "
                              f"{envelope.get('event_type')} at version {version} waits for it")
        if decision == APPLY:
            uow.session.execute(
                table.update().where(key_column == key)
                .values(**values, **{version_column: version}))
    return decision


def follow_assignment(db, envelope, model, consumer):
    """`intervention.assigned` on a copy of interventions: the technician and
    company follow the newest assignment. The creation-time event
    (`previous_technician_id` null) needs no copy: `intervention.created`
    carries the same assignment."""
    data = envelope["data"]
    return apply_change(
        db, envelope, model, consumer, key=data["id"],
        values={"technician_id": data["technician_id"], "company_id": data["company_id"]},
        version=data["version"], copy_expected=data.get("previous_technician_id") is not None)
