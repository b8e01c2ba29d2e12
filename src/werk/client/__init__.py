"""Read werk from Python: Arrow tables and Polars/pandas frames over the HTTP API."""
