"""YAML test sets: loading with line numbers, schema, model, templating, checks and the runner."""
