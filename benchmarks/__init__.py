"""The measurements behind every number in the README, the model cards and ``docs/``, run from the project's
root as modules (``python -m benchmarks.speed``); ``benchmarks/README.md`` lists them. ``data/`` builds the data
sets they read; ``decisions/`` holds the one-question records behind a default."""
