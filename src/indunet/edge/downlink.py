"""Commands and writes from the platform, through the driver, checked again at the edge and audited.

The platform checks every command against the device type before sending it; the gateway checks
again with its own copy of the model (its configuration may lag behind the platform's) and against
its bindings: a point write needs a ``read_write`` point that is bound on this device, a command
needs a binding in the device's ``commands``. Values are unscaled to raw before the driver writes
them. Every request and its outcome goes to the gateway's audit table, and the answer goes back on
``v1/gateway/rpc`` ({"device", "id", "data"}); a failed write answers {"error": reason}.

Shared attributes pushed by the platform (``v1/gateway/attributes``) that name a writable bound
point are written the same way; other attributes are not the gateway's business.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from indunet.core.errors import InvalidInput
from indunet.edge.driver import DriverError
from indunet.edge.queue import SampleQueue
from indunet.edge.worker import DeviceWorker, raw_value
from indunet.platform.commands import CommandCall, PointWrite, check
from indunet.platform.models import Access, compile_validator

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
COMMAND_TIMEOUT_S = 30.0

Reply = Callable[[str, object], Awaitable[None]]


class Downlink:
    def __init__(self, workers: Mapping[str, DeviceWorker], queue: SampleQueue, reply: Reply) -> None:
        self.workers = workers
        self.queue = queue
        self.reply = reply
        self._validators = {name: compile_validator(w.device.type) for name, w in workers.items()}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_message(self, topic: str, payload: bytes) -> None:
        """Called by the MQTT client for each message the platform sends (must not block)."""
        if len(payload) > MAX_PAYLOAD_BYTES:
            log.warning("ignoring %d-byte message on %s", len(payload), topic)
            return
        try:
            document = json.loads(payload)
        except ValueError:
            log.warning("ignoring non-JSON message on %s", topic)
            return
        if not isinstance(document, dict) or not isinstance(document.get("device"), str):
            log.warning("ignoring message without a device on %s", topic)
            return
        data = document.get("data")
        if topic == "v1/gateway/rpc" and isinstance(data, dict):
            self._spawn(self.rpc(document["device"], data))
        elif topic == "v1/gateway/attributes" and isinstance(data, dict):
            self._spawn(self.attributes(document["device"], data))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def rpc(self, device: str, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params")
        outcome = await self.execute(device, str(method), params)
        await self.reply("v1/gateway/rpc", {"device": device, "id": request_id, "data": outcome})

    async def attributes(self, device: str, update: dict[str, Any]) -> None:
        worker = self.workers.get(device)
        if worker is None:
            return
        for key, value in update.items():
            point = worker.device.type.point(key)
            if point is not None and point.access is Access.READ_WRITE and key in worker.device.bindings:
                await self.execute(device, key, value)

    async def execute(self, device: str, method: str, params: Any) -> dict[str, Any]:
        """Run one command or write; the answer for the platform. Never raises."""
        worker = self.workers.get(device)
        if worker is None:
            outcome: dict[str, Any] = {"error": f"this gateway has no device {device!r}"}
        else:
            outcome = await self._execute(worker, method, params)
        await asyncio.to_thread(
            self.queue.audit,
            int(time.time() * 1000),
            device,
            method[:128],
            params,
            "ok" if "error" not in outcome else str(outcome["error"]),
        )
        return outcome

    async def _execute(self, worker: DeviceWorker, method: str, params: Any) -> dict[str, Any]:
        try:
            checked = check(self._validators[worker.device.name], method, params)
        except InvalidInput as exc:
            return {"error": exc.message}
        try:
            async with worker.lock:
                if isinstance(checked, PointWrite):
                    binding = worker.device.bindings.get(checked.point)
                    if binding is None:
                        return {"error": f"point {checked.point!r} is not bound on this gateway"}
                    raw = raw_value(
                        checked.value,
                        binding.scale,
                        binding.offset,
                        worker.driver.raw_types.get(checked.point),
                    )
                    await asyncio.wait_for(worker.driver.write(checked.point, raw), COMMAND_TIMEOUT_S)
                    return {"success": True}
                assert isinstance(checked, CommandCall)
                if checked.command not in worker.device.spec.commands:
                    return {"error": f"command {checked.command!r} is not bound on this gateway"}
                result = await asyncio.wait_for(
                    worker.driver.call(checked.command, checked.params), COMMAND_TIMEOUT_S
                )
                return {"success": True} if result is None else {"success": True, "result": result}
        except TimeoutError:
            return {"error": f"no answer from the device within {COMMAND_TIMEOUT_S:g} s"}
        except (DriverError, ValueError) as exc:
            return {"error": str(exc) or type(exc).__name__}
