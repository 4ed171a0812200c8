from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from printwork.db import Base


class LabKey(Base):
    """A lab's key for the lab-facing API. Keyed by lab code, so it outlives catalogue imports."""

    __tablename__ = "lab_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lab_code: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
