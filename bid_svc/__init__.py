"""bid_svc: BidService's API and the bid log's workers, in one package because they share
the log's shape; a process runs either or both (GAVEL_BID_ROLE=api|worker|all).

- ``service``: the servicer: PlaceBid checks a bid and appends it to the log; GetBid, ListBids
  and ListMyBids read decided bids.
- ``outcomes``: where a waiting PlaceBid hears its decision (a NATS reply subject).
- ``bid_store``: reading decided bids from Cassandra, histories by page token.
- ``worker``: owns log partitions (leases), decides each auction's commands in log order,
  group commit.
- ``ledger``: the Cassandra side of a decision, one conditional batch (LWT) per group.
- ``__main__``: ``setup`` wires the role's halves to Cassandra and NATS; ``SPEC`` serves them.
"""
