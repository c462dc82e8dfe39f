"""Drop-in layers for code written against other etcd clients.

`pyetcd_wire.compat.etcd3` is python-etcd3's (PyPI ``etcd3``) public API over
`pyetcd_wire.Client`: ``import pyetcd_wire.compat.etcd3 as etcd3``."""
