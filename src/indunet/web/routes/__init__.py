"""REST API routers: thin adapters from HTTP to platform services."""
