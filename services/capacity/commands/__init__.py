"""What the capacity service does when asked, or when time passes: every state change is a
command here, taking an opened unit of work (``Work``) and announcing events by collecting them.

``capacity`` stores reports and admissions, ``matching`` proposes places, ``placements`` and
``escalations`` move a youth's case on, ``shortages`` judges the settings a change touched,
``alerts`` raises and acknowledges alerts, and ``timers`` runs what falls due.
"""

from __future__ import annotations

from typing import TypeAlias

from services.capacity.settings import CapacitySettings
from services.capacity.store import Store
from services.runtime.unit_of_work import UnitOfWork

# The unit of work every capacity command runs in.
Work: TypeAlias = UnitOfWork[Store, CapacitySettings]
