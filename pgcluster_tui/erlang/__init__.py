"""Erlang distribution: EPMD and handshake wire formats, and the step-by-step node doctor."""
