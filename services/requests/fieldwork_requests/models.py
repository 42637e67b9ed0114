"""Tables of the requests database."""
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from fieldwork_common.intervention_copies import KnownInterventionColumns


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


class KnownIntervention(KnownInterventionColumns, Base):
    """This service's copy of each intervention (fieldwork_common.intervention_copies)."""
