"""The privacy engine: what may leave the hub, to whom, in what form."""
