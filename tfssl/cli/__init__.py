"""absl command-line entry points: the only code that reads FLAGS."""
