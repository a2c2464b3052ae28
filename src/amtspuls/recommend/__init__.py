"""Recommendations (Handlungsempfehlungen): findings, lifecycle, proof, wording, weekly report."""
