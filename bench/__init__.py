"""numberflow's benchmarks: ``make bench`` (full) and ``make bench-quick``; see ``__main__``."""
