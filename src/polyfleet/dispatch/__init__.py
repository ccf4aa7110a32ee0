"""Dispatch: jobs onto a Ray cluster, to the pools the plan chose, surviving the loss of a pool.

`jobs` (what a job runs on a node; the job file is `polyfleet.inputs.jobs`, the plan a run reads
the plan record `polyfleet.results.plan`), `router` (which pool gets each job: pure numpy),
`ledger` (SQLite: every job's state and path) and `lock` (one run per ledger), `cluster` (pools
as Ray node resources; a local multi-node cluster), `runner` (submission, watching, re-routing).
Only `cluster` and `runner` import Ray, and a missing `run` extra is one error naming it.
"""
