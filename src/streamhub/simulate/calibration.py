"""How many row changes one arrival sets off, measured by running the workload itself.

The target rate is in row changes per second, but the workload schedules
arrivals (a patient registering, an admission); every arrival later causes
visits, charges, reports and settlements. Rather than restate the flows as a
formula that would drift from the code, run one institution of the kind for a
simulated day and a half without a database and count, after a warm-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from streamhub.simulate.activity import Kind, load_activity
from streamhub.simulate.business_time import FLAT
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import Institution

ARRIVALS_PER_DAY = 1500
NOMINAL_ROWS_PER_ARRIVAL = 10.0
START = datetime(2026, 1, 5)
WARM_UP = timedelta(hours=12)
MEASURED = timedelta(hours=24)


@cache
def rows_per_arrival(kind: Kind, systems: tuple[str, ...], raw_text: bool) -> float:
    activity = load_activity()
    probe = Institution(
        key="k00",
        kind=kind,
        name="calibration",
        credit_code="",
        region_code="350203",
        district="",
        dialect="",
        engine="postgres",
        systems=systems,
        weight=1.0,
        index=0,
    )
    workload = InstitutionWorkload(
        probe,
        activity,
        seed=0,
        start=START,
        rows_per_second=ARRIVALS_PER_DAY * NOMINAL_ROWS_PER_ARRIVAL / 86400,
        rows_per_arrival=NOMINAL_ROWS_PER_ARRIVAL,
        compression=1.0,
        curve=FLAT,
    )
    workload.configure(bad_fraction=0.0, bad_kinds=(), raw_text=raw_text)
    workload.seed_state(activity.seed_patients[kind], activity.seed_inpatients[kind])
    workload.take_seeded()
    counts = []
    for until in (START + WARM_UP, START + WARM_UP + MEASURED):
        while workload.next_time() < until:
            workload.step()
        counts.append((workload.rows, workload.arrivals))
    (rows_0, arrivals_0), (rows_1, arrivals_1) = counts
    return (rows_1 - rows_0) / max(arrivals_1 - arrivals_0, 1)
