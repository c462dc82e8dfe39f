"""The driver-neutral managers of the stream machinery: what the sync stream
worker (`_sync/stream_worker.py`) and the asyncio one (`_async/stream_worker.py`) both
run, so each decision about watches and kept-alive leases (open, resume,
back-pressure, loss) is written once.

A driver owns the I/O: it opens streams (`OpenStream`), writes (`Send`),
feeds what arrived by calling `read`, and calls `tend` when something
changed or a timer is due.  The managers call back only through those and
through the user-facing objects' `_on_*` methods (`WatchSink`,
`KeepAliveSink`), which each driver implements with its own waiting
(threads or futures).
"""
