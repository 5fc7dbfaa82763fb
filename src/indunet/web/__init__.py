"""HTTP adapters: the REST API and the console."""
