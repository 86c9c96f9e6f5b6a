"""auction_svc: AuctionService (create, get and list auctions) and the closer that ends them.

- ``service``: the servicer, proto in and out around the rules below.
- ``creation``: a CreateAuctionRequest into a new auction, or every reason it cannot be one.
- ``listing``: ListAuctions, paged over the index tables with signed page tokens.
- ``closer``: appends each ended auction's close command to its log partition, on time.
- ``dev_auth``: DevAuthService, dev tokens for the web page and CLI (dev mode only).
- ``__main__``: ``setup`` wires them to Cassandra and NATS; ``SPEC`` serves them.
"""
