"""The probe: one PyTorch workload suite that measures whatever accelerator is present.

It writes a profile (`polyfleet.inputs.profile`, the file format), which imports no torch, so the
planner can read profiles on a machine without PyTorch; `probe.device`, `probe.suite` and
`probe.models` need the `probe` extra.
"""
