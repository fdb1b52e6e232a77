"""A demo deployment with realistic, deterministic back-office data (``kontor demo``)."""

from hub.demo.generate import DemoSummary, write_demo

__all__ = ["DemoSummary", "write_demo"]
