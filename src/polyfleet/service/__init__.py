"""`polyfleet serve`: the team service (REST API over a shared store of inputs, runs and tokens).

Needs the `serve` extra; `import polyfleet` never imports this package.
"""
