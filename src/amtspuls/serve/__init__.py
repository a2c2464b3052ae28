"""Serve: the FastAPI app (REST API, tracking endpoints, dashboard)."""
