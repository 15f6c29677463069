"""`serve`: the Monitor run unattended, with /metrics for Prometheus and /healthz for probes."""
