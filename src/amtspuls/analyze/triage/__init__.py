"""Triage of citizen service requests: category, priority with reasons, duplicates
grouped into incidents, routing and workload (see docs/triage.md)."""
