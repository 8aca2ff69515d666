"""The rules: one package per family, one module per rule, named after it."""
