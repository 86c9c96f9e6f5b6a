"""Gavel's rules as plain Python: no I/O, so they are tested exhaustively and fast."""
