"""Sample material for ltv's tests and demos (not shipped in the ltv wheel)."""
