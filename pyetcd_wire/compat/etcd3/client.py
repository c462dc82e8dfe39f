"""python-etcd3's client (``etcd3.client()``, `Etcd3Client`, and its
master's `MultiEndpointEtcd3Client` with `Endpoint`) over
`pyetcd_wire.Client`.

Every call returns what python-etcd3's returned (``get`` a ``(value,
KVMetadata)`` pair or ``(None, None)``, the ``*_response`` calls etcd's
response messages, ...) and raises python-etcd3's exceptions
(`exceptions.translated`).  Underneath, our client does the work, and so the
differences are ours:

* Calls are retried where that is safe and fail over between endpoints
  (python-etcd3 retried nothing; ``failover=True`` only moved the *next*
  call).  ``failover=False`` keeps python-etcd3's choice of one endpoint at
  random.  `Endpoint`'s ``time_retry`` and failure bookkeeping are our
  balancer's business, and are not kept.
* With ``user`` and ``password``, the credentials are checked when the
  client is made, as before, and the token is renewed whenever etcd says it
  expired (python-etcd3 kept the first one forever).
* No grpc: TLS credentials are a `pyetcd_wire.TLS` (``get_secure_creds``
  makes one), and of ``grpc_options`` only the message size and keepalive
  options mean something (`grpc_client_options`).  The gRPC stubs
  (``kvstub``, ...) and ``channel`` do not exist.
"""

from __future__ import annotations

import random
from typing import (
    Any,
    Callable,
    Dict,
    Generator,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import pyetcd_wire
from pyetcd_wire import errors as ours

from ..._api.methods import MAINTENANCE_ALARM
from . import etcdrpc, transactions
from ._shapes import (
    Alarm,
    Endpoint,
    EtcdTokenCallCredentials,
    KVMetadata,
    Status,
    Transactions,
    grpc_client_options,
    range_options,
)
from .exceptions import translate_errors, translated
from .leases import Lease
from .locks import Lock
from .members import Member
from .utils import lease_to_id
from .watch import Watcher, WatchMethods

BytesLike = Union[str, bytes]
T = TypeVar("T")

#: Our sort orders -> RangeRequest's.
_SORT_ORDER_ENUMS = {
    "none": etcdrpc.RangeRequest.NONE,
    "ascend": etcdrpc.RangeRequest.ASCEND,
    "descend": etcdrpc.RangeRequest.DESCEND,
}

#: The errors after which `status`, `defragment` and `hash` ask the next
#: member (each asks exactly one: our per-member calls).
_MEMBER_DOWN = (ours.TransportError, ours.UnavailableError, ours.DeadlineExceededError)


def _pairs(response: Any) -> Generator[Tuple[bytes, KVMetadata], None, None]:
    """``(value, KVMetadata)`` of each key of a RangeResponse."""
    for kv in response.kvs:
        yield kv.value, KVMetadata(kv, response.header)


def _yield(items: Iterable[T]) -> Generator[T, None, None]:
    """`items` as a generator (python-etcd3's shape), its call made already:
    an error is raised by the call, not by the first ``next()``."""
    yield from items


class MultiEndpointEtcd3Client(WatchMethods):
    """python-etcd3's client over several endpoints (its master's).

    Args:
        endpoints: `Endpoint` values (at least one).
        timeout: the deadline of every call, in seconds (None: none).
        user, password: password auth (both or neither).
        failover: use every endpoint (our client retries and fails over
            between them); False: one of them, chosen at random.

    Raises:
        ValueError: no endpoint, one of user and password, or different TLS
            credentials for two endpoints.
        Etcd3Exception, ...: the credentials were refused or could not be
            checked (`exceptions.translated`).
    """

    def __init__(
        self,
        endpoints: Optional[Iterable[Endpoint]] = None,
        timeout: Optional[float] = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        failover: bool = False,
    ) -> None:
        self.endpoints = {ep.netloc: ep for ep in endpoints or ()}
        if not self.endpoints:
            raise ValueError("a client needs at least one Endpoint")
        if (user is None) != (password is None):
            raise ValueError(
                "if using authentication credentials both user and password "
                "must be specified."
            )
        self.failover = failover
        self.timeout = timeout
        chosen = list(self.endpoints.values())
        if not failover:
            chosen = [random.choice(chosen)]
        self._client = _new_client(chosen, timeout, user, password)
        self.metadata: Optional[Tuple[Tuple[str, str], ...]] = None
        self.call_credentials: Optional[EtcdTokenCallCredentials] = None
        if user is not None and password is not None:
            self._check_credentials(user, password)
        self.transactions = Transactions()
        self.watcher = Watcher(self._client, timeout)

    def _check_credentials(self, user: str, password: str) -> None:
        """Authenticate now, as python-etcd3 did, so that wrong credentials
        fail here; our client fetches and renews its own token."""
        try:
            token = self._client.authenticate(user, password).token
        except ours.EtcdError as exc:
            self._client.close()
            raise translated(exc) from None
        self.metadata = (("token", token),)
        self.call_credentials = EtcdTokenCallCredentials(token)

    @staticmethod
    def get_secure_creds(
        ca_cert: str, cert_key: Optional[str] = None, cert_cert: Optional[str] = None
    ) -> pyetcd_wire.TLS:
        """TLS credentials from the CA file and the client key and certificate
        files (a `pyetcd_wire.TLS`, which reads and checks them now).

        Raises:
            ValueError: a file is missing or not what it should be.
        """
        return pyetcd_wire.TLS(ca_file=ca_cert, cert_file=cert_cert, key_file=cert_key)

    def get_watcher(self) -> Watcher:
        """A new `Watcher` on this client's connections."""
        return Watcher(self._client, self.timeout)

    def close(self) -> None:
        """End the watches and close the connections."""
        self.watcher.close()
        self._client.close()

    def __enter__(self) -> MultiEndpointEtcd3Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- KV -------------------------------------------------------------------

    def _build_get_range_request(self, key: BytesLike, **kwargs: Any) -> Any:
        """The ``etcdrpc.RangeRequest`` of a get with these keywords, as
        python-etcd3 built it: the sort order as given (our client sends
        ascending by key as no order, as Go's does: etcd's results come
        so sorted, and an order makes it read the whole range first).

        Raises:
            ValueError: an unknown sort order or target.
        """
        options = range_options(**kwargs)
        op = pyetcd_wire.Op.get(key, **options)
        request = op.to_request_op().request_range
        request.sort_order = _SORT_ORDER_ENUMS[options["sort_order"]]
        return request

    @translate_errors
    def get_response(self, key: BytesLike, **kwargs: Any) -> Any:
        """The RangeResponse of `key` (keywords: `range_options`)."""
        return self._client.get(key, **range_options(**kwargs))

    def get(
        self, key: BytesLike, **kwargs: Any
    ) -> Tuple[Optional[bytes], Optional[KVMetadata]]:
        """``(value, KVMetadata)`` of `key`, or ``(None, None)``."""
        response = self.get_response(key, **kwargs)
        if not response.kvs:
            return None, None
        kv = response.kvs[-1]
        return kv.value, KVMetadata(kv, response.header)

    @translate_errors
    def get_prefix_response(self, key_prefix: BytesLike, **kwargs: Any) -> Any:
        """The RangeResponse of every key starting with `key_prefix`.

        Raises:
            TypeError: ``key`` or ``range_end`` among the keywords.
        """
        if "key" in kwargs or "range_end" in kwargs:
            raise TypeError("Don't use key or range_end with prefix")
        return self._client.get(key_prefix, prefix=True, **range_options(**kwargs))

    def get_prefix(
        self, key_prefix: BytesLike, **kwargs: Any
    ) -> Generator[Tuple[bytes, KVMetadata], None, None]:
        """``(value, KVMetadata)`` of every key starting with `key_prefix`."""
        return _pairs(self.get_prefix_response(key_prefix, **kwargs))

    @translate_errors
    def get_range_response(
        self,
        range_start: BytesLike,
        range_end: BytesLike,
        sort_order: Optional[str] = None,
        sort_target: Optional[str] = "key",
        **kwargs: Any,
    ) -> Any:
        """The RangeResponse of ``[range_start, range_end)``."""
        options = range_options(
            range_end, sort_order=sort_order, sort_target=sort_target, **kwargs
        )
        return self._client.get(range_start, **options)

    def get_range(
        self, range_start: BytesLike, range_end: BytesLike, **kwargs: Any
    ) -> Generator[Tuple[bytes, KVMetadata], None, None]:
        """``(value, KVMetadata)`` of every key in ``[range_start, range_end)``."""
        return _pairs(self.get_range_response(range_start, range_end, **kwargs))

    @translate_errors
    def get_all_response(
        self,
        sort_order: Optional[str] = None,
        sort_target: Optional[str] = "key",
        keys_only: bool = False,
    ) -> Any:
        """The RangeResponse of every key."""
        options = range_options(
            sort_order=sort_order, sort_target=sort_target, keys_only=keys_only
        )
        return self._client.get(b"\0", from_key=True, **options)

    def get_all(self, **kwargs: Any) -> Generator[Tuple[bytes, KVMetadata], None, None]:
        """``(value, KVMetadata)`` of every key."""
        return _pairs(self.get_all_response(**kwargs))

    @translate_errors
    def put(
        self, key: BytesLike, value: BytesLike, lease: Any = None, prev_kv: bool = False
    ) -> Any:
        """Put `value` at `key` (with a `Lease` or lease ID); the PutResponse."""
        return self._client.put(key, value, lease=lease_to_id(lease), prev_kv=prev_kv)

    def put_if_not_exists(
        self, key: BytesLike, value: BytesLike, lease: Any = None
    ) -> bool:
        """Put `value` at `key` if the key does not exist; True if it did not."""
        status, _ = self.transaction(
            compare=[self.transactions.create(key) == "0"],
            success=[self.transactions.put(key, value, lease=lease)],
            failure=[],
        )
        return status

    def replace(
        self, key: BytesLike, initial_value: BytesLike, new_value: BytesLike
    ) -> bool:
        """Put `new_value` at `key` if its value is `initial_value`; True if
        it was."""
        status, _ = self.transaction(
            compare=[self.transactions.value(key) == initial_value],
            success=[self.transactions.put(key, new_value)],
            failure=[],
        )
        return status

    @translate_errors
    def delete(
        self, key: BytesLike, prev_kv: bool = False, return_response: bool = False
    ) -> Any:
        """Delete `key`: True if it existed, or the DeleteRangeResponse with
        `return_response`."""
        response = self._client.delete(key, prev_kv=prev_kv)
        if return_response:
            return response
        return response.deleted >= 1

    @translate_errors
    def delete_prefix(self, prefix: BytesLike) -> Any:
        """Delete every key starting with `prefix`; the DeleteRangeResponse."""
        return self._client.delete(prefix, prefix=True)

    @translate_errors
    def compact(self, revision: int, physical: bool = False) -> None:
        """Discard the history before `revision` (`physical`: return once it
        is gone from the backend too)."""
        self._client.compact(revision, physical=physical)

    # --- transactions -----------------------------------------------------------

    def _ops_to_requests(self, ops: Iterable[Any]) -> List[Any]:
        """The ``etcdrpc.RequestOp`` of each operation.

        Raises:
            TypeError: `ops` is not iterable, or holds something else.
        """
        return [transactions.to_op(op).to_request_op() for op in ops]

    @translate_errors
    def transaction(
        self,
        compare: Iterable[Any],
        success: Optional[Iterable[Any]] = None,
        failure: Optional[Iterable[Any]] = None,
    ) -> Tuple[bool, List[Any]]:
        """Run `success` if every compare holds, else `failure`.

        Returns:
            ``(succeeded, responses)``: each ResponseOp of the branch that
            ran, except that a get's is a list of ``(value, KVMetadata)``.
        """
        parts = transactions.branches(compare, success, failure)
        response = self._client.txn(*parts)
        responses: List[Any] = []
        for each in response.responses:
            if each.WhichOneof("response") == "response_range":
                kvs = each.response_range.kvs
                responses.append(
                    [(kv.value, KVMetadata(kv, response.header)) for kv in kvs]
                )
            else:
                responses.append(each)
        return response.succeeded, responses

    # --- leases and locks ---------------------------------------------------------

    @translate_errors
    def lease(self, ttl: int, lease_id: Optional[int] = None) -> Lease:
        """Grant a lease of `ttl` seconds (with this ID, if given)."""
        response = self._client.grant(ttl, id=lease_id or 0)
        return Lease(response.ID, response.TTL, etcd_client=self)

    @translate_errors
    def revoke_lease(self, lease_id: int) -> None:
        """Revoke a lease (its keys are deleted)."""
        self._client.revoke(lease_id)

    @translate_errors
    def refresh_lease(self, lease_id: int) -> Generator[Any, None, None]:
        """Renew a lease once: a generator of etcd's one LeaseKeepAliveResponse
        (TTL 0 if the lease is gone, as etcd answers)."""
        try:
            response = self._client.keep_alive_once(lease_id)
        except ours.LeaseNotFoundError:
            response = etcdrpc.LeaseKeepAliveResponse(ID=lease_id, TTL=0)
        return _yield([response])

    @translate_errors
    def get_lease_info(self, lease_id: int) -> Any:
        """The lease's LeaseTimeToLiveResponse, with its keys."""
        return self._client.time_to_live(lease_id, keys=True)

    def lock(self, name: str, ttl: int = 60) -> Lock:
        """A `Lock` named `name` (key ``/locks/<name>``), held `ttl` seconds
        at most unless refreshed (or entered with ``with``)."""
        return Lock(name, ttl=ttl, etcd_client=self)

    # --- cluster ------------------------------------------------------------------

    @translate_errors
    def add_member(self, urls: Sequence[str]) -> Member:
        """Add a member with these peer URLs; the new `Member`."""
        m = self._client.member_add(list(urls)).member
        return Member(m.ID, m.name, m.peerURLs, m.clientURLs, etcd_client=self)

    @translate_errors
    def remove_member(self, member_id: int) -> None:
        """Remove a member from the cluster."""
        self._client.member_remove(member_id)

    @translate_errors
    def update_member(self, member_id: int, peer_urls: Sequence[str]) -> None:
        """Replace a member's peer URLs."""
        self._client.member_update(member_id, list(peer_urls))

    @translate_errors
    def _member_list(self) -> Any:
        return self._client.member_list()

    @property
    def members(self) -> Generator[Member, None, None]:
        """A generator of every `Member` of the cluster."""
        return _yield(
            Member(m.ID, m.name, m.peerURLs, m.clientURLs, etcd_client=self)
            for m in self._member_list().members
        )

    # --- maintenance ----------------------------------------------------------------

    def _on_a_member(self, call: Callable[[str], T]) -> T:
        """`call(endpoint)` on the first endpoint that answers."""
        endpoints = self._client.endpoints
        for endpoint in endpoints[:-1]:
            try:
                return call(endpoint)
            except _MEMBER_DOWN:
                continue
        return call(endpoints[-1])

    @translate_errors
    def status(self) -> Status:
        """The status of a member (the first that answers)."""
        response = self._on_a_member(self._client.status)
        leader = next((m for m in self.members if m.id == response.leader), None)
        return Status(
            response.version,
            response.dbSize,
            leader,
            response.raftIndex,
            response.raftTerm,
        )

    @translate_errors
    def defragment(self) -> None:
        """Defragment a member's backend (the first that answers)."""
        self._on_a_member(self._client.defragment)

    @translate_errors
    def hash(self) -> int:
        """A member's hash of its key-value store (etcd HashKV; python-etcd3
        asked Hash, which also covers etcd's other buckets, so members
        differed)."""
        return self._on_a_member(self._client.hash_kv).hash

    @translate_errors
    def create_alarm(self, member_id: int = 0) -> List[Alarm]:
        """Raise a NOSPACE alarm for a member (0: one for "every member");
        the alarms raised.  Sent as python-etcd3 sent it: our client, as
        Go's, has no call to raise an alarm."""
        request = etcdrpc.AlarmRequest(
            action=etcdrpc.AlarmRequest.ACTIVATE,
            memberID=member_id,
            alarm=etcdrpc.NOSPACE,
        )
        response = self._client._call(
            MAINTENANCE_ALARM, request, etcdrpc.AlarmResponse, None
        )
        return [Alarm(a.alarm, a.memberID) for a in response.alarms]

    @translate_errors
    def list_alarms(
        self, member_id: int = 0, alarm_type: str = "none"
    ) -> Generator[Alarm, None, None]:
        """The active alarms (of every member, as etcd lists them), of the
        type given: "none" (every type) or "no space".

        Raises:
            ValueError: another type.
        """
        if alarm_type not in ("none", "no space"):
            raise ValueError(f"Unknown alarm type: {alarm_type}")
        alarms = self._client.alarm_list().alarms
        return _yield(
            Alarm(a.alarm, a.memberID)
            for a in alarms
            if alarm_type == "none" or a.alarm == etcdrpc.NOSPACE
        )

    @translate_errors
    def disarm_alarm(self, member_id: int = 0) -> List[Alarm]:
        """Disarm a member's NOSPACE alarm (0: every member's, where
        python-etcd3 disarmed only one raised for member 0); the alarms
        disarmed."""
        response = self._client.alarm_disarm(member_id, "nospace")
        return [Alarm(a.alarm, a.memberID) for a in response.alarms]

    @translate_errors
    def snapshot(self, file_obj: Any) -> None:
        """Write a snapshot of a member's backend to `file_obj` (what etcdctl
        snapshot save writes; the checksum is checked before its last
        chunk is written)."""
        for blob in self._client.snapshot():
            file_obj.write(blob)


def _new_client(
    endpoints: Sequence[Endpoint],
    timeout: Optional[float],
    user: Optional[str],
    password: Optional[str],
) -> pyetcd_wire.Client:
    """Our client over `endpoints` (their one TLS configuration, their gRPC
    options merged)."""
    creds: List[Any] = []
    for ep in endpoints:
        if ep.secure and ep.credentials not in creds:
            creds.append(ep.credentials)
    if len(creds) > 1:
        raise ValueError("every secure Endpoint must have the same credentials")
    options: Dict[str, Any] = {}
    for ep in endpoints:
        options.update(grpc_client_options(ep.opts))
    return pyetcd_wire.Client(
        [ep.url for ep in endpoints],
        timeout=timeout,
        tls=creds[0] if creds else None,
        username=user,
        password=password,
        **options,
    )


class Etcd3Client(MultiEndpointEtcd3Client):
    """python-etcd3's client of one endpoint.

    Args:
        host, port: where etcd listens.
        ca_cert: the CA file: TLS (alone, or with both `cert_key` and
            `cert_cert` for a client certificate).
        timeout: the deadline of every call, in seconds (None: none).
        user, password: password auth (both or neither).
        grpc_options: gRPC channel options (`grpc_client_options`).

    Raises:
        ValueError: `ca_cert` with only one of `cert_key` and `cert_cert`;
            a certificate file missing or malformed; one of user and password.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 2379,
        ca_cert: Optional[str] = None,
        cert_key: Optional[str] = None,
        cert_cert: Optional[str] = None,
        timeout: Optional[float] = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        grpc_options: Any = None,
    ) -> None:
        credentials = None
        self.uses_secure_channel = ca_cert is not None
        if ca_cert is not None:
            if (cert_key is None) != (cert_cert is None):
                raise ValueError(
                    "to use a secure channel ca_cert is required by itself, "
                    "or cert_cert and cert_key must both be specified."
                )
            credentials = self.get_secure_creds(ca_cert, cert_key, cert_cert)
        endpoint = Endpoint(
            host,
            port,
            secure=self.uses_secure_channel,
            creds=credentials,
            opts=grpc_options,
        )
        super().__init__(
            endpoints=[endpoint], timeout=timeout, user=user, password=password
        )


def client(
    host: str = "localhost",
    port: int = 2379,
    ca_cert: Optional[str] = None,
    cert_key: Optional[str] = None,
    cert_cert: Optional[str] = None,
    timeout: Optional[float] = None,
    user: Optional[str] = None,
    password: Optional[str] = None,
    grpc_options: Any = None,
) -> Etcd3Client:
    """An `Etcd3Client` (the same arguments)."""
    return Etcd3Client(
        host=host,
        port=port,
        ca_cert=ca_cert,
        cert_key=cert_key,
        cert_cert=cert_cert,
        timeout=timeout,
        user=user,
        password=password,
        grpc_options=grpc_options,
    )


__all__ = [
    "Alarm",
    "Endpoint",
    "Etcd3Client",
    "EtcdTokenCallCredentials",
    "KVMetadata",
    "MultiEndpointEtcd3Client",
    "Status",
    "Transactions",
    "client",
    "grpc_client_options",
    "range_options",
]
