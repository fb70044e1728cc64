"""Simulated institutions: HIS/EMR/LIS/PACS workloads written into real databases.

The simulator is the oracle of every later stage. It decides each change itself
(seeded, deterministic), writes it to PostgreSQL or MariaDB through a vendor
dialect, and records what it wrote in a ground-truth ledger that only tests and
benchmarks read.
"""
