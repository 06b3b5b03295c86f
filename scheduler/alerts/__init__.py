"""Alerts: what changed, told to people through their channels."""
