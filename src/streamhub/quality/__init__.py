"""Data-quality scores and reports (数据质控报告, issue 22).

Scores are counted in ClickHouse from what landed (the latest version of every record, so
a record corrected or deleted at the source stops counting against it); this package turns
the counts into dimension scores with published weights (:mod:`.weights`) and exports them.
"""
