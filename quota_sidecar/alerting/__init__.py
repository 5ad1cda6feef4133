"""Alerts: the shared stream format, live delivery, handlers and webhooks."""
