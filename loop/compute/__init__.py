"""Heavy computation that knows nothing of sessions: where it runs (this process or a Dask
cluster), embedding texts into the content-addressed cache, the memory-mapped vector matrix,
neighbours of a pool, scoring a pool in chunks, and the process's memory."""
