"""Enrich: user agents and bots, referrers, request kinds, sessions, service mapping."""
