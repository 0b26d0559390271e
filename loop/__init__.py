"""Sessions, the annotation store, simulated annotators and the CLI."""
