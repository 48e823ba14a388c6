"""Builders of the data sets that the benchmarks read: CIFAR-10 arrays, photo crops, synthetic content."""
