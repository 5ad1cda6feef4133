"""The quota engine: the QuotaService facade over rate limits, costs and alerts."""
