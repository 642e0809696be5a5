"""`make bench`: the figures in docs/performance.md, measured on moto and in fresh interpreters."""
