"""Raw change envelopes -> the regional canonical model (std.<entity>).

profile (vendor mapping as data) -> mapper -> checks -> pseudonymizer -> std record;
rule violations -> ops.quality; what cannot be standardized -> dlq.standardize.
"""
