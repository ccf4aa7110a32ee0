"""The probe: one PyTorch workload suite that measures whatever accelerator is present.

`probe.profile` (the file format) imports no torch, so the planner can read profiles on a machine
without PyTorch; `probe.device`, `probe.suite` and `probe.models` need the `probe` extra.
"""
