"""python-etcd3's own test suite, run against `pyetcd_wire.compat.etcd3`
(``nox -s etcd3_suite``): `run` fetches the file and starts the cluster,
`plugin` makes ``import etcd3`` ours for that run.  Neither is collected by a
plain ``pytest``; `test_harness` checks them offline."""
