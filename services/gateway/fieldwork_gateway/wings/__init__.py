"""The gateway's wings: one domain each, `routes.py` (its HTTP resources,
declared on `web.api`) and `schemas.py` (its bodies). A wing never imports
another wing; what they share lives in `web.py`, `fields.py` and `pages.py`.

WINGS is the one list `app.py` registers, in this order."""
WINGS = ("operations", "accounts", "masterdata", "interventions", "workshop", "visits", "reads",
         "files", "surveys", "clockings", "incidents", "requests", "reports")
