"""stream_svc: StreamService.WatchAuction, the live view of an auction for any number of
watchers: the current state first, then every newer version, heartbeats when idle.

- ``service``: the servicer and the snapshot read from Cassandra.
- ``fanout``: one NATS subscription per watched auction shared by the process's watchers,
  each watcher pulling the newest event from its auction's board when ready (conflation).
- ``__main__``: ``setup`` wires the hub to Cassandra and NATS; ``SPEC`` serves it.
"""
