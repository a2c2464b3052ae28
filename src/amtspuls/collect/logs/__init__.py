"""Server access logs: reading files and parsing them per format."""
