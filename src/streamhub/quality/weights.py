"""The published weights and targets of the quality score (docs/decisions/quality.md).

Each dimension scores 0-100 as the share of records that pass it; the overall score is the
weighted sum. Change them here only: reports print the weights they were computed with.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

DIMENSIONS: Final = ("completeness", "validity", "consistency", "timeliness")
# 完整性, 有效性, 一致性, 及时性
DIMENSION_NAMES: Final = MappingProxyType(
    {
        "completeness": "完整性",
        "validity": "有效性",
        "consistency": "一致性",
        "timeliness": "及时性",
    }
)
WEIGHTS: Final = MappingProxyType(
    {"completeness": 0.30, "validity": 0.30, "consistency": 0.20, "timeliness": 0.20}
)
# commit at the source -> queryable in ClickHouse
LANDED_TARGET_MS: Final = 5 * 60 * 1000
# business time -> first commit at the source (补录: entered late at the institution)
ENTRY_TARGET_MS: Final = 24 * 60 * 60 * 1000
# Cross-record rule ids (consistency) and the timeliness ones, beside the standardizer's.
CROSS_RULES: Final = (
    "fee_sum_settlement",
    "encounter_exists",
    "report_exists",
    "business_key_unique",
)
LATE_RULES: Final = ("landed_late", "entered_late")
REQUIRED_RULE: Final = "required"
TIMEZONE: Final = "Asia/Shanghai"
