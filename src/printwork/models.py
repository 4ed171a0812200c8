"""Imports every table so that Alembic and tests see the whole schema."""

from printwork.core.callbacks import models as callback_models  # noqa: F401
from printwork.core.catalog import models as catalog_models  # noqa: F401
from printwork.core.labs import models as lab_models  # noqa: F401
from printwork.core.merchants import models as merchant_models  # noqa: F401
from printwork.core.orders import models as order_models  # noqa: F401
from printwork.core.users import models as user_models  # noqa: F401
from printwork.db import Base

metadata = Base.metadata
