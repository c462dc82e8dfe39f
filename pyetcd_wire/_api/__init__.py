"""Request builders and response decoders for etcd's v3 API (private).

Pure code: no I/O, no clock.  One module per etcd concept, named after Go's
client files (kv, op, txn, compare), plus ``methods`` (the RPC catalogue) and
``util`` (bytes, integers and prefix range ends).  The drivers and the public
facades import from here; users never do.
"""
