"""Device-facing transports: adapters that move device messages into the platform services and back."""
