"""amtspuls: privacy-first analytics and early warning for a municipality's website."""

__version__ = "0.1.0"
