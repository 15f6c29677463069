"""pgcluster-tui: watch and join the channel libcluster_postgres clusters heartbeat on."""

__version__ = "0.1.0"
