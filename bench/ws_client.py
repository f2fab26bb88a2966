"""The websocket benchmark's client: a signed-in page of a run, as a minimal RFC 6455 client."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time

ROW = re.compile(r'<li id="step-(\d+)" class="step step-(\w+)"')
FULL_STATE = '<section id="steps"'


class Client:
    """A minimal RFC 6455 client: the handshake, then text frames read until the server closes."""

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.port, self.path, self.cookie = port, path, cookie
        self.arrivals: dict[int, float] = {}
        self.frames: list[tuple[float, bytes]] = []
        self.bytes = 0
        self.caught_up = asyncio.Event()
        self.error = ""
        self.closed = asyncio.Event()

    async def run(self) -> None:
        try:
            await self._run()
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.caught_up.set()
            self.closed.set()

    async def _run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n\r\n"
            ).encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        try:
            while True:
                head = await reader.readexactly(2)
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(length)
                if opcode == 8:
                    break
                if opcode == 1:
                    self._frame(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the server closed the connection: what arrived so far is this client's record
        finally:
            self.closed.set()
            writer.close()

    def _frame(self, payload: bytes) -> None:
        # Read after the run (`read_frames`): the clients share the machine's cores with the server,
        # and parsing 200 pages' frames as they come would compete with the run being measured.
        self.bytes += len(payload)
        if not self.caught_up.is_set():
            self.caught_up.set()
            return
        self.frames.append((time.time(), payload))

    def read_frames(self) -> None:
        for arrived, payload in self.frames:
            text = payload.decode()
            if FULL_STATE in text:  # the whole state again (a run's event), not the steps' own events
                continue
            # The rows of the step events gathered since the page's last frame.
            for number, status in ROW.findall(text):
                if status == "succeeded":
                    self.arrivals.setdefault(int(number), arrived)
        self.frames = []
