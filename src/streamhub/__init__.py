"""streamhub: real-time integration hub for regional health data."""

__version__ = "0.1.0"
