"""The command line's face: one module per group of commands. Each command parses its
options, calls one job (meterhouse.jobs) and renders the result (meterhouse.render);
meterhouse.app assembles them (docs/decisions/0014)."""
