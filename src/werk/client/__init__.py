"""Read werk from Python: Arrow tables and Polars/pandas frames over the HTTP API.

::

    from werk.client import Client, to_polars

    with Client("http://127.0.0.1:8600", api_key="...") as werk:
        trend = werk.range("acme/plant/body/line-1/press-01", "-7d", bucket="1m")
        frame = to_polars(trend)

The client speaks HTTP only (it imports nothing of the server): see :class:`Client` for the
reads (series, signals, latest, range, events, KPIs, losses, benchmark, export, live stream)
and :meth:`Client.ingest` for writes. Errors are :mod:`werk.errors` classes with the server's key.
"""

from werk.client.connection import Client, StreamMessage, error_of
from werk.client.frames import to_pandas, to_polars

__all__ = ["Client", "StreamMessage", "error_of", "to_pandas", "to_polars"]
