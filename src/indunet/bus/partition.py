"""Rule partitions: every device belongs to one, so one rule worker sees all of a device's samples.

A device's partition is ``crc32(device_id) mod n``: stable across processes, restarts and Python
versions (``hash()`` is salted per process). Writers split each committed batch by partition; rule
workers hold partitions (``indunet.bus.nats``). Sans-I/O.
"""

from __future__ import annotations

import zlib

from indunet.bus.batch import BatchRow, TelemetryBatch


def partition_of(device_id: str, partitions: int) -> int:
    return zlib.crc32(device_id.encode()) % partitions


def piece_id(msg_id: str, partition: int) -> str:
    """The message id of one partition's piece of a stored message.

    Derived from the telemetry message alone, so a writer that publishes the pieces again (the
    message was redelivered after a crash) produces the same ids and JetStream drops the copies.
    """
    return f"{msg_id}@{partition}"


def split_by_partition(batch: TelemetryBatch, partitions: int) -> dict[int, TelemetryBatch]:
    """The batch's rows per partition, each piece carrying only its own devices."""
    of_device = [partition_of(device_id, partitions) for device_id, _type in batch.devices]
    devices: dict[int, list[tuple[str, str]]] = {}
    index: dict[int, int] = {}  # device index in the batch -> index in its piece
    for d, p in enumerate(of_device):
        own = devices.setdefault(p, [])
        index[d] = len(own)
        own.append(batch.devices[d])
    rows: dict[int, list[BatchRow]] = {}
    for d, point, sid, ts, num, text in batch.rows:
        rows.setdefault(of_device[d], []).append((index[d], point, sid, ts, num, text))
    return {
        p: TelemetryBatch(piece_id(batch.msg_id, p), batch.tenant_id, batch.arrived_us, devices[p], own)
        for p, own in rows.items()
    }
