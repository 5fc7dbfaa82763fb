"""The telemetry bus: in-process by default, NATS JetStream in server mode (``bus_url = "nats://..."``).

Transports (HTTP, MQTT, Sparkplug) never talk to the bus directly; they call the telemetry service,
which validates the points against the device models (so the client still gets per-point rejections
synchronously) and hands the batch to the platform's sink::

    from indunet.platform import telemetry

    # synchronous (a thread-pool worker, the CLI):
    result = telemetry.ingest(platform, principal, records)
    # asyncio (an MQTT server's loop): validation runs in a worker thread, then the publish is awaited
    result = await telemetry.ingest_async(platform, principal, records)
    # result.accepted: points made durable; result.rejected: [{"record", "point", "reason", ...}]

``records`` are ``{"device": id-or-name, "ts": epoch-ms | RFC 3339 | None, "values": {point: value}}``
dicts; a device principal may omit ``device``. Both calls return only once the accepted points are
durable: committed to the time-series store (embedded), or stored in the file-backed JetStream stream
and acknowledged by the server (NATS mode; writers commit them shortly after). Answer the client
(HTTP 200, MQTT PUBACK) only after they return; a ``StorageError`` means nothing may be assumed
stored, and the client should retry (HTTP 503, PUBACK 0x80 unspecified error).

This package holds the wire format (here) and the NATS client (``indunet.bus.nats``, imported on
demand so that an embedded deployment never loads nats-py); it imports only ``indunet.core``. The
sinks and the writer and rule-worker loops live in ``indunet.platform.ingest_service``.
"""

from indunet.bus.batch import MAX_MESSAGE_BYTES, BatchRow, TelemetryBatch, decode, encode, merge

__all__ = ["MAX_MESSAGE_BYTES", "BatchRow", "TelemetryBatch", "decode", "encode", "merge"]
