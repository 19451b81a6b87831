"""Every table of the product on one metadata, for Alembic and for the ORM (a foreign key names another
capability's table, so every model module must be loaded before the first session is used)."""
from sqlmodel import SQLModel

from rxapp.attendance import models as attendance_models
from rxapp.audit import models as audit_models
from rxapp.compliance import models as compliance_models
from rxapp.feeds import models as feed_models
from rxapp.investigation import models as investigation_models
from rxapp.messaging import models as messaging_models
from rxapp.portal import models as portal_models
from rxapp.staff import models as staff_models
from rxapp.supervision import models as supervision_models
from rxapp.tasks import models as task_models
from rxapp.victims import models as victim_models

MODEL_MODULES = (audit_models, victim_models, attendance_models, feed_models, staff_models, messaging_models,
                 task_models, investigation_models, portal_models, compliance_models, supervision_models)
metadata = SQLModel.metadata
