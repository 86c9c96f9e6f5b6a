"""AuctionService: create, read and list auctions."""
