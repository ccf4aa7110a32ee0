"""Every file polyfleet reads, on one base model, through one reader and one error converter.

`base` (the base model and the range of every number), `reader` (a YAML or JSON document with
every hostile-input defence, and the line of a field), `convert` (pydantic's errors to one
InputError naming file, line, field and value; catalog names to ids), `cost` (the owned and
rented cost terms, with their one set of documented defaults), then one module per file kind:
`scenario`, `procurement`, `deal`, `jobs`, `profile`, `model_shape`, `benchmarks` (tables of
published results), and the command-line `options`. The modules are imported on their own (this
package imports none of them), so that reading a profile or a job file loads no more than it
needs.
"""
