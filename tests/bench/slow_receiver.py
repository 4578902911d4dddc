"""A receiver that holds every request for HOLD seconds before answering
200, so that thousands of deliveries are in flight at once. asyncio: one
process keeps 10 000 connections. Prints its port, then serves until killed.

    python3 slow_receiver.py <hold seconds>
"""

import asyncio
import sys

HOLD = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            await asyncio.sleep(HOLD)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
