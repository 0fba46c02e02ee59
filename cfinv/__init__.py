"""``cfinv``: wait for the service's invalidations from CI, and ask it for paths on demand."""
