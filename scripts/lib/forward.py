"""Forwards TCP from LISTEN_HOST:PORT to 127.0.0.1:PORT, for each PORT given.

SAM's containers sit on Docker's bridge and cannot reach the host's loopback,
where scripts/dev's services listen. This listens on the host's own bridge
address only (not on every interface) and connects nowhere but loopback.
    python3 scripts/lib/forward.py LISTEN_HOST PORT [PORT ...]
"""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def handler(port):
    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
        )

    return handle


async def main(host, ports):
    servers = [await asyncio.start_server(handler(p), host, p) for p in ports]
    print("forwarding", " ".join(f"{host}:{p}" for p in ports), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
