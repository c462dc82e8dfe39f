"""python-etcd3's public API (0.12.0, plus its master's
`MultiEndpointEtcd3Client`) over `pyetcd_wire.Client`, with no grpcio:
``import pyetcd_wire.compat.etcd3 as etcd3``."""
