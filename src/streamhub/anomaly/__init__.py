"""Traffic anomalies: each feed's events per minute against its own seasonal baseline.

A feed is (institution, system, table) as one connector captures it. The baseline
(:mod:`.baseline`) learns what a commit minute usually holds; the detector
(:mod:`.detector`) turns ops.source_counts and ops.heartbeat into opened, updated and
closed anomalies shaped like ``avro_schemas/ops/anomaly.avsc``. Pure logic with an
injected clock (:class:`streamhub.core.clock.Clock`). Around it, `streamhub anomaly run`:
:mod:`.service` (records in, events out, metrics, the warm start's replay),
:mod:`.startup` (suppressions loaded, history replayed), :mod:`.app` (the Faust
transport), :mod:`.suppression_log` (acknowledgements and maintenance windows on a
compacted topic) and :mod:`.report` (`anomaly show`).
"""

from streamhub.anomaly.baseline import Baseline, BaselineConfig, Expectation, SeasonalCalendar
from streamhub.anomaly.detector import DetectorConfig, TrafficDetector
from streamhub.anomaly.errors import AnomalyError, InvalidRecordError, InvalidSuppressionError
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
from streamhub.anomaly.suppression import Acknowledgement, MaintenanceWindow, Suppressions

__all__ = [
    "Acknowledgement",
    "AnomalyError",
    "AnomalyEvent",
    "Baseline",
    "BaselineConfig",
    "DetectorConfig",
    "Expectation",
    "FeedKey",
    "InvalidRecordError",
    "InvalidSuppressionError",
    "Kind",
    "MaintenanceWindow",
    "SeasonalCalendar",
    "Severity",
    "Suppressions",
    "TrafficDetector",
]
