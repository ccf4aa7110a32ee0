"""Placement: which pool serves which workload, at least cost, within every limit."""
