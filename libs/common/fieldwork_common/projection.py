"""Local copies of another service's data, fed by its events.

A service that needs a little of another's data keeps it in a table of its
own; `store_copy` upserts the event's `data` into such a table (only the
columns the table has), once per event.
"""
from sqlalchemy.dialects.postgresql import insert


def store_copy(db, envelope, model, consumer):
    columns = {c.name for c in model.__table__.columns}
    values = {k: v for k, v in envelope["data"].items() if k in columns}
    with db.unit_of_work() as uow:
        if not uow.first_time(envelope, consumer):
            return False
        key = [c.name for c in model.__table__.primary_key.columns]
        uow.session.execute(
            insert(model).values(**values)
            .on_conflict_do_update(index_elements=key,
                                   set_={k: v for k, v in values.items() if k not in key}))
    return True
