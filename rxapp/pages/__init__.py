"""Pages: render state, nothing else."""
