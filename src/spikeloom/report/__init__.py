"""Self-contained HTML report and PNG figures built from result dictionaries."""

from __future__ import annotations

from spikeloom.report.html import Section, render_report, write_report

__all__ = ["Section", "render_report", "write_report"]
