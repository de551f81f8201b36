"""Shared fixtures. Tests drive the real path: syncer talks HTTP to a sandbox portal on loopback."""
