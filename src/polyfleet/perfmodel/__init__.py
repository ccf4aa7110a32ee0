"""The performance model: a throughput for every workload on every accelerator, with its origin."""

from polyfleet.perfmodel.matrix import Origin, Reason, ThroughputMatrix, build_matrix
from polyfleet.perfmodel.roofline import EFFICIENCY

__all__ = ["EFFICIENCY", "Origin", "Reason", "ThroughputMatrix", "build_matrix"]
