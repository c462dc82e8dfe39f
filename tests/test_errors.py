"""The error tree and the status -> exception mapping (pyetcd_wire.errors).

The expected table is written out here by hand from etcd-io/etcd
api/v3rpc/rpctypes/error.go (v3.4.0 to v3.7, reference/clientv3.md §3), not
derived from the module's catalogue, so a typo on either side fails a test.
"""

from __future__ import annotations

import builtins
import inspect

import pytest

from pyetcd_wire import errors
from pyetcd_wire._core.grpc.status import Status, StatusCode

C = StatusCode
X = errors

# Status class (its code is what etcd 3.6+ sends) -> [(exact message, class)].
EXPECTED = {
    X.InvalidArgumentError: [
        ("etcdserver: key is not provided", X.EmptyKeyError),
        ("etcdserver: key not found", X.KeyNotFoundError),
        ("etcdserver: value is provided", X.ValueProvidedError),
        ("etcdserver: lease is provided", X.LeaseProvidedError),
        ("etcdserver: too many operations in txn request", X.TooManyOpsError),
        ("etcdserver: duplicate key given in txn request", X.DuplicateKeyError),
        ("etcdserver: invalid client api version", X.InvalidClientAPIVersionError),
        ("etcdserver: invalid sort option", X.InvalidSortOptionError),
        ("etcdserver: given member URLs are invalid", X.MemberBadURLsError),
        ("etcdserver: request is too large", X.RequestTooLargeError),
        ("etcdserver: user name is empty", X.UserEmptyError),
        ("etcdserver: role name is empty", X.RoleEmptyError),
        (
            "etcdserver: authentication failed, invalid user ID or password",
            X.AuthFailedError,
        ),
        ("etcdserver: permission not given", X.PermissionNotGivenError),
        ("etcdserver: invalid auth management", X.InvalidAuthMgmtError),
        ("etcdserver: revision of auth store is old", X.AuthOldRevisionError),
        (
            "etcdserver: wrong downgrade target version format",
            X.WrongDowngradeVersionFormatError,
        ),
        (
            "etcdserver: invalid downgrade target version",
            X.InvalidDowngradeTargetVersionError,
        ),
    ],
    X.OutOfRangeError: [
        ("etcdserver: mvcc: required revision has been compacted", X.CompactedError),
        (
            "etcdserver: mvcc: required revision is a future revision",
            X.FutureRevisionError,
        ),
        ("etcdserver: too large lease TTL", X.LeaseTTLTooLargeError),
    ],
    X.ResourceExhaustedError: [
        ("etcdserver: mvcc: database space exceeded", X.NoSpaceError),
        ("etcdserver: too many requests", X.TooManyRequestsError),
    ],
    X.NotFoundError: [
        ("etcdserver: requested lease not found", X.LeaseNotFoundError),
        ("etcdserver: member not found", X.MemberNotFoundError),
    ],
    X.FailedPreconditionError: [
        ("etcdserver: lease already exists", X.LeaseExistError),
        ("etcdserver: member ID already exist", X.MemberExistError),
        ("etcdserver: Peer URLs already exists", X.PeerURLExistError),
        (
            "etcdserver: re-configuration failed due to not enough started members",
            X.MemberNotEnoughStartedError,
        ),
        ("etcdserver: can only promote a learner member", X.MemberNotLearnerError),
        (
            "etcdserver: can only promote a learner member which is in sync with leader",  # noqa: E501
            X.MemberLearnerNotReadyError,
        ),
        ("etcdserver: too many learner members in cluster", X.TooManyLearnersError),
        ("etcdserver: cluster ID mismatch", X.ClusterIDMismatchError),
        ("etcdserver: root user does not exist", X.RootUserNotExistError),
        ("etcdserver: root user does not have root role", X.RootRoleNotExistError),
        ("etcdserver: user name already exists", X.UserAlreadyExistError),
        ("etcdserver: user name not found", X.UserNotFoundError),
        ("etcdserver: role name already exists", X.RoleAlreadyExistError),
        ("etcdserver: role name not found", X.RoleNotFoundError),
        ("etcdserver: role is not granted to the user", X.RoleNotGrantedError),
        (
            "etcdserver: permission is not granted to the role",
            X.PermissionNotGrantedError,
        ),
        ("etcdserver: authentication is not enabled", X.AuthNotEnabledError),
        ("etcdserver: not leader", X.ServerNotLeaderError),
        ("etcdserver: not capable", X.NotCapableError),
        ("etcdserver: rpc not supported for learner", X.NotSupportedForLearnerError),
        ("etcdserver: bad leader transferee", X.BadLeaderTransfereeError),
        (
            "etcdserver: cluster version not found during downgrade",
            X.ClusterVersionUnavailableError,
        ),
        (
            "etcdserver: cluster has a downgrade job in progress",
            X.DowngradeInProcessError,
        ),
        ("etcdserver: no inflight downgrade job", X.NoInflightDowngradeError),
    ],
    X.PermissionDeniedError: [
        ("etcdserver: permission denied", X.PermissionDeniedError),
    ],
    X.UnauthenticatedError: [
        ("etcdserver: invalid auth token", X.InvalidAuthTokenError),
    ],
    X.UnavailableError: [
        ("etcdserver: no leader", X.NoLeaderError),
        ("etcdserver: leader changed", X.LeaderChangedError),
        ("etcdserver: server stopped", X.StoppedError),
        ("etcdserver: request timed out", X.RequestTimeoutError),
        (
            "etcdserver: request timed out, possibly due to previous leader failure",
            X.TimeoutDueToLeaderFailError,
        ),
        (
            "etcdserver: request timed out, possibly due to connection lost",
            X.TimeoutDueToConnectionLostError,
        ),
        (
            "etcdserver: request timed out, waiting for the applied index took too long",  # noqa: E501
            X.TimeoutWaitAppliedIndexError,
        ),
        ("etcdserver: unhealthy cluster", X.UnhealthyError),
    ],
    X.DataLossError: [
        ("etcdserver: corrupt cluster", X.CorruptError),
    ],
    X.RpcCancelledError: [
        ("etcdserver: watch canceled", X.ServerWatchCanceledError),
        ("etcdserver: request canceled", X.RequestCanceledError),
    ],
}
CODE_OF = {cls: code for code, cls in errors.RPC_ERROR_BY_CODE.items()}

# Other codes the same messages arrive with: etcd <= 3.5 sent UNAVAILABLE for
# three errors, and two errors always travel as UNKNOWN.
OTHER_WIRE_CODES = {
    "etcdserver: not capable": C.UNAVAILABLE,
    "etcdserver: rpc not supported for learner": C.UNAVAILABLE,
    "etcdserver: cluster version not found during downgrade": C.UNAVAILABLE,
    "etcdserver: too many requests": C.UNKNOWN,
    "etcdserver: re-configuration failed due to not enough started members": (
        C.UNKNOWN
    ),
}

# (code on the wire, exact message, expected class, its status class)
SERVER_ERRORS = [
    (code, message, cls, status_cls)
    for status_cls, rows in EXPECTED.items()
    for message, cls in rows
    for code in (CODE_OF[status_cls], OTHER_WIRE_CODES.get(message))
    if code is not None
]

DEADLINE_MESSAGE = "etcdserver: context deadline exceeded"

# The auth store's own messages, which etcd 3.4 and 3.5 send as UNKNOWN from the
# root-only Maintenance calls (etcd-io/etcd server/auth/store.go; v3rpc/
# maintenance.go returns its auth check's error unconverted): the class of the
# converted message.
AUTH_STORE = [
    ("auth: invalid auth token", X.InvalidAuthTokenError),
    ("auth: user name is empty", X.UserEmptyError),
    ("auth: user not found", X.UserNotFoundError),
    ("auth: permission denied", X.PermissionDeniedError),
]


@pytest.mark.parametrize(
    ("code", "message", "cls", "status_cls"),
    SERVER_ERRORS,
    ids=[f"{row[2].__name__}-{row[0].name}" for row in SERVER_ERRORS],
)
def test_server_error_maps_by_exact_message(code, message, cls, status_cls):
    err = errors.error_from_status(Status(code, message), endpoint="h:2379")
    assert type(err) is cls
    assert isinstance(err, status_cls)
    assert isinstance(err, errors.RpcError)
    assert isinstance(err, errors.EtcdError)
    assert err.code is code  # the code as received, not the catalogue's
    assert err.details == message
    assert err.endpoint == "h:2379"


@pytest.mark.parametrize(("message", "cls"), AUTH_STORE, ids=[m for m, _ in AUTH_STORE])
def test_auth_store_message_maps_to_its_converted_class(message, cls):
    err = errors.error_from_status(Status(C.UNKNOWN, message), endpoint="h:2379")
    assert type(err) is cls
    assert err.code is C.UNKNOWN  # as received
    assert err.details == message


def test_table_covers_the_catalogue_exactly():
    expected = {message: cls for _, message, cls, _ in SERVER_ERRORS}
    expected[DEADLINE_MESSAGE] = errors.DeadlineExceededError
    assert len(expected) == 63
    expected.update(AUTH_STORE)
    assert expected == errors.ETCD_ERROR_BY_MESSAGE
    codes = {
        message: code
        for code, by_message in errors.ETCD_SERVER_ERRORS.items()
        for message in by_message
    }
    for status_cls, rows in EXPECTED.items():
        for message, _ in rows:
            assert codes[message] is CODE_OF[status_cls], message


def test_catalogue_codes_match_class_placement():
    for code, by_message in errors.ETCD_SERVER_ERRORS.items():
        for message in by_message:
            cls = errors.ETCD_ERROR_BY_MESSAGE[message]
            if code is StatusCode.DEADLINE_EXCEEDED:
                assert cls is errors.DeadlineExceededError
            else:
                assert issubclass(cls, errors.RPC_ERROR_BY_CODE[code]), message


def test_one_class_per_etcd_error():
    classes = [
        errors.ETCD_ERROR_BY_MESSAGE[message]
        for by_message in errors.ETCD_SERVER_ERRORS.values()
        for message in by_message
    ]
    assert len(set(classes)) == len(classes)


def test_message_beats_code():
    err = errors.error_from_status(Status(C.UNKNOWN, "etcdserver: too many requests"))
    assert isinstance(err, errors.TooManyRequestsError)
    assert not isinstance(err, errors.UnknownError)
    for code in (C.UNAVAILABLE, C.FAILED_PRECONDITION):  # etcd 3.5, 3.6
        err = errors.error_from_status(Status(code, "etcdserver: not capable"))
        assert type(err) is errors.NotCapableError
        assert not isinstance(err, errors.UnavailableError)


@pytest.mark.parametrize("code", [c for c in StatusCode if c is not C.OK])
def test_unknown_message_maps_by_code(code):
    err = errors.error_from_status(Status(code, "something else went wrong"))
    if code is C.DEADLINE_EXCEEDED:
        assert type(err) is errors.DeadlineExceededError
    else:
        assert type(err) is errors.RPC_ERROR_BY_CODE[code]
        assert err.code is code


def test_match_is_exact():
    # etcd sends the text exactly; like Go's rpctypes.Error we do not trim.
    for message in (
        " etcdserver: no leader",
        "etcdserver: no leader\n",
        "Etcdserver: no leader",
    ):
        err = errors.error_from_status(Status(C.UNKNOWN, message))
        assert type(err) is errors.UnknownError


def test_deadline_exceeded_is_a_timeout_error():
    for status in (
        Status(C.DEADLINE_EXCEEDED, "context deadline exceeded"),
        Status(C.DEADLINE_EXCEEDED, DEADLINE_MESSAGE),
        Status(C.UNKNOWN, DEADLINE_MESSAGE),
        # DEADLINE_EXCEEDED wins even over another etcd message.
        Status(C.DEADLINE_EXCEEDED, "etcdserver: request timed out"),
    ):
        err = errors.error_from_status(status, endpoint="h:1")
        assert type(err) is errors.DeadlineExceededError
        assert isinstance(err, TimeoutError)
        assert isinstance(err, errors.EtcdError)
        assert not isinstance(err, errors.RpcError)
        assert err.endpoint == "h:1"
        assert status.message in str(err)


def test_attributes_are_carried():
    trailers = ((b"grpc-status", b"11"), (b"grpc-message", b"x"))
    status = Status(
        C.OUT_OF_RANGE,
        "etcdserver: mvcc: required revision has been compacted",
        details=b"\x08\x0b",
        trailers=trailers,
        not_processed=True,
    )
    err = errors.error_from_status(status, endpoint="10.0.0.1:2379")
    assert isinstance(err, errors.CompactedError)
    assert err.endpoint == "10.0.0.1:2379"
    assert err.status_details == b"\x08\x0b"
    assert err.trailers == trailers
    assert err.not_processed is True
    assert err.compact_revision == 0
    assert "OUT_OF_RANGE from 10.0.0.1:2379" in str(err)
    plain = errors.error_from_status(Status(C.UNAVAILABLE, "x"))
    assert plain.not_processed is False
    assert plain.endpoint == ""


def test_client_side_construction_defaults_to_etcds_message():
    err = errors.EmptyKeyError()
    assert err.code is C.INVALID_ARGUMENT
    assert err.details == "etcdserver: key is not provided"
    compacted = errors.CompactedError(compact_revision=42, endpoint="h:1")
    assert compacted.compact_revision == 42
    assert compacted.code is C.OUT_OF_RANGE
    assert compacted.details.endswith("has been compacted")
    assert errors.TooManyRequestsError().code is C.RESOURCE_EXHAUSTED
    assert errors.UnavailableError().code is C.UNAVAILABLE
    assert errors.UnavailableError().details == ""
    assert errors.PermissionDeniedError().details == "etcdserver: permission denied"
    # The old positional form still works and wins over the defaults.
    err = errors.NotCapableError(C.UNAVAILABLE, "etcdserver: not capable")
    assert err.code is C.UNAVAILABLE

    class Custom(errors.LeaseNotFoundError):
        """A subclass inherits the defaults."""

    assert Custom().code is C.NOT_FOUND
    with pytest.raises(TypeError):
        errors.RpcError()


def test_client_side_errors():
    assert isinstance(errors.LeaseExpiredError(lease_id=0x1F), errors.LeaseError)
    assert errors.LeaseExpiredError(lease_id=0x1F).lease_id == 0x1F
    assert "1f" in str(errors.LeaseExpiredError(lease_id=0x1F))
    halted = errors.KeepAliveHaltedError("stream broke", lease_id=7)
    assert (halted.reason, halted.lease_id) == ("stream broke", 7)
    assert isinstance(halted, errors.LeaseError)
    canceled = errors.WatchCanceledError("permission denied", watch_id=3)
    assert (canceled.reason, canceled.watch_id) == ("permission denied", 3)
    assert isinstance(canceled, errors.WatchError)
    assert not isinstance(canceled, errors.RpcError)
    assert str(errors.LockedError()) == "mutex: Locked by another session"
    assert str(errors.SessionExpiredError()) == "mutex: session is expired"
    assert str(errors.NotLeaderError()) == "election: not leader"
    assert str(errors.NotLeaderError("custom")) == "custom"
    for cls in (errors.LockedError, errors.SessionExpiredError, errors.NotLeaderError):
        assert issubclass(cls, errors.RecipeError)
    assert not issubclass(errors.NotLeaderError, errors.ServerNotLeaderError)
    assert not issubclass(errors.ElectionNoLeaderError, errors.NoLeaderError)
    assert isinstance(errors.NoEndpointAvailableError(), errors.TransportError)
    old = errors.OldClusterError(endpoint="h:1", version="3.1.0")
    assert (old.endpoint, old.version) == ("h:1", "3.1.0")
    assert "3.1.0" in str(old)


def _module_classes():
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and obj.__module__ == errors.__name__
    }


def test_no_class_shadows_a_builtin():
    shadowing = set(_module_classes()) & set(dir(builtins))
    assert shadowing == set()
    assert set(errors.__all__) & set(dir(builtins)) == set()


def test_all_is_sorted_complete_and_exists():
    assert sorted(errors.__all__) == errors.__all__
    assert len(set(errors.__all__)) == len(errors.__all__)
    for name in errors.__all__:
        assert hasattr(errors, name), name
    exceptions = {
        name for name, cls in _module_classes().items() if issubclass(cls, Exception)
    }
    assert exceptions <= set(errors.__all__)
    assert all(issubclass(cls, errors.EtcdError) for cls in _module_classes().values())


def test_every_class_has_a_docstring():
    for name, cls in _module_classes().items():
        assert cls.__doc__, name
        assert cls.__doc__.strip(), name


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("context deadline exceeded", errors.DeadlineExceededError),
        ("context canceled", errors.RpcCancelledError),
    ],
)
def test_go_context_errors_sent_as_unknown_get_their_class(message, cls):
    # etcd 3.5 answers a Range whose grpc-timeout passed mid-range with
    # ctx.Err() as UNKNOWN (seen against 3.5.1 with deadlines under 1 ms).
    err = errors.error_from_status(Status(C.UNKNOWN, message), endpoint="h:1")
    assert type(err) is cls
    assert err.endpoint == "h:1"


def test_go_context_messages_with_another_code_keep_the_code_class():
    err = errors.error_from_status(Status(C.INTERNAL, "context canceled"))
    assert type(err) is errors.InternalError


# --- what a caller can do: `retryable` and `outcome_known` ----------------------


def _constructed(cls):
    """An instance of `cls` built with its required arguments."""
    if issubclass(cls, (errors.ConnectionFailedError, errors.TLSError)):
        return cls([("127.0.0.1:2379", "why")])
    if cls is errors.ParentProcessError:
        return cls("watch", owner_pid=1)
    if cls is errors.RpcError:
        return cls(C.UNKNOWN, "x")
    try:
        return cls()
    except TypeError:
        return cls("x")


def test_every_error_says_whether_a_retry_can_help_and_the_outcome_is_known():
    for name, cls in _module_classes().items():
        if not issubclass(cls, errors.EtcdError) or cls is errors.EtcdError:
            continue
        error = _constructed(cls)
        assert error.retryable is issubclass(cls, errors.RetryableError), name
        assert isinstance(error.outcome_known, bool), name


@pytest.mark.parametrize(
    ("error", "retryable", "outcome_known"),
    [
        # Nothing was sent, and sending again changes nothing.
        (X.ClientClosedError(), False, True),
        (
            X.ResourceExhaustedError(None, "larger than max", not_processed=True),
            False,
            True,
        ),
        (X.TLSError([("e", "certificate verify failed")]), False, True),
        (X.NoEndpointAvailableError(), False, True),
        # Nothing was sent; later it may work.
        (X.ConnectionFailedError([("e", "connection refused")]), True, True),
        (X.DeadlineExceededError("x", connecting=True), True, True),
        (X.ConnectionLostError("x", not_processed=True), True, True),
        (X.NoLeaderError(), True, True),
        (X.TooManyRequestsError(), True, True),
        # A write may have been applied.
        (X.ConnectionLostError("x"), True, False),
        (X.DeadlineExceededError("x"), True, False),
        (X.LeaderChangedError(), True, False),
        (X.RequestTimeoutError(), True, False),
        (X.UnavailableError(), True, False),
        (X.RemoteProtocolError("x"), False, False),
        # etcd refused it: nothing was applied, and the same call fails again.
        (X.CompactedError(), False, True),
        (X.NoSpaceError(), False, True),
        (X.PermissionDeniedError(), False, True),
        (X.UserEmptyError(), False, True),  # auth is on, and no credentials
        (X.MirrorNotSyncedError(), False, True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_retryable_and_outcome_known_per_case(error, retryable, outcome_known):
    assert (error.retryable, error.outcome_known) == (retryable, outcome_known)
    assert isinstance(error, X.RetryableError) is retryable


def test_client_closed_and_mirror_not_synced_are_runtime_errors_not_transport_ones():
    assert issubclass(X.ClientClosedError, RuntimeError)
    assert not issubclass(X.ClientClosedError, X.TransportError)
    assert issubclass(X.MirrorNotSyncedError, (RuntimeError, X.RecipeError))
    assert "sync_base() first" in str(X.MirrorNotSyncedError())
