"""Health: whether this console can serve (``/healthz``, for load balancers)."""
