"""Collect: read raw inputs (server logs, tracker requests, event files) into hit batches."""
