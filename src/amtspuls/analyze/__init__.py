"""Analyze: reports, search, topics, journeys, forms, anomalies, forecast, triage."""
