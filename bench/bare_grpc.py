"""A BidService that answers PlaceBid at once: no interceptors, no auth, no log, no Cassandra.

The least a Python gRPC server on this machine spends on a call, run in its own process so
its CPU is counted apart. Against it, ``make bench`` tells what our own API adds (auth,
validation, interceptors) from what any Python gRPC service would cost.

    python -m bench.bare_grpc PORT      (prints "ready" once it listens; stops on SIGTERM)
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.server import run_loop


class BareBidService(pb_grpc.BidServiceServicer):
    async def PlaceBid(self, request: pb.PlaceBidRequest, context: grpc.aio.ServicerContext) -> pb.Bid:
        return pb.Bid(auction_id=request.auction_id, amount=request.amount, status=pb.BID_STATUS_ACCEPTED)


async def serve(port: int) -> None:
    server = grpc.aio.server()
    pb_grpc.add_BidServiceServicer_to_server(BareBidService(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    run_loop(serve(int(sys.argv[1])))  # the services' own event loop, so the floor compares like with like
