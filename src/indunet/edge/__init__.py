"""The edge gateway: field devices over heterogeneous protocols into the platform's information model.

It talks to the platform only over the public device APIs (the MQTT gateway API, HTTP as fallback),
exactly as a third-party gateway would, and keeps every sample in a local queue while the uplink is down.
"""
