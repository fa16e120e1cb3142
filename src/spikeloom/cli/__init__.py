"""Command line: the only layer that parses flags and prints."""
