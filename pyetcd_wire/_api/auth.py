"""Auth requests: enabling auth, tokens, users, roles and permissions
(client/v3/auth.go).

Each builder checks its arguments and returns the protobuf request Go's
``Auth`` methods send.  Client-side checks:

* user, role and password arguments are ``str`` (protobuf ``string``);
* ``user_add`` and ``role_add`` refuse an empty name with the error etcd
  would answer (UserEmptyError, RoleEmptyError), without the round trip.
  For the other calls etcd answers an empty name with "not found", so it is
  left to the server;
* ``user_add`` takes a password, or ``no_password=True`` for a user that can
  only authenticate by TLS common name (etcd 3.4+), never both nor neither;
  the request always carries ``options``, as Go's ``UserAdd`` does;
* a permission's range follows the KV rules (``resolve_range``): a key,
  ``range_end`` (``"\\0"``: every key >= key) or ``prefix=True``, which
  computes the range end; an empty key with ``prefix=True`` is the whole
  keyspace (``"\\0"`` to ``"\\0"``), as in etcdctl.  A grant whose range is
  empty (``range_end <= key``) is refused: etcd 3.5.1 stores it, and it
  grants nothing;
* permission types are "read", "write" or "readwrite", case-insensitive, as
  Go's ``StrToPermissionType`` (or the Permission.Type numbers 0-2).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Union

from .._proto import rpc_pb2
from ..errors import RoleEmptyError, UserEmptyError
from .check import text
from .kv import _parse_enum, resolve_range
from .util import FROM_KEY_END, BytesLike

if TYPE_CHECKING:
    from .._proto import auth_pb2

# Nothing at module level touches a message of auth.proto or admin.proto: the
# client imports this module for `authenticate_request`, and they are built
# on first use (see _proto/rpc_pb2.py).


@functools.cache
def _permission_types() -> Tuple[
    Dict[str, auth_pb2.Permission.Type], Dict[int, auth_pb2.Permission.Type]
]:
    """Permission types by name (client/v3/auth.go PermRead, PermWrite,
    PermReadWrite) and by number."""
    from .._proto import auth_pb2

    perm = auth_pb2.Permission
    by_name = {"read": perm.READ, "write": perm.WRITE, "readwrite": perm.READWRITE}
    return by_name, {int(v): v for v in by_name.values()}


def permission_type_enum(perm: Union[str, int]) -> auth_pb2.Permission.Type:
    """Parses a permission type: "read", "write" or "readwrite".

    Strings are case-insensitive; the Permission.Type numbers 0-2 are accepted.

    Raises:
        ValueError: anything else.
    """
    return _parse_enum(perm, "perm", *_permission_types())


def auth_enable_request() -> rpc_pb2.AuthEnableRequest:
    """Builds an AuthEnableRequest.  etcd refuses it unless user "root" exists
    (ErrRootUserNotExist) and has role "root" (ErrRootRoleNotExist)."""
    return rpc_pb2.AuthEnableRequest()


def auth_disable_request() -> rpc_pb2.AuthDisableRequest:
    """Builds an AuthDisableRequest (needs a root token while auth is on)."""
    return rpc_pb2.AuthDisableRequest()


def auth_status_request() -> rpc_pb2.AuthStatusRequest:
    """Builds an AuthStatusRequest: whether auth is on, and the auth store's
    revision (etcd 3.5+)."""
    return rpc_pb2.AuthStatusRequest()


def authenticate_request(name: str, password: str) -> rpc_pb2.AuthenticateRequest:
    """Builds an AuthenticateRequest: trade a user name and password for a
    token.  etcd answers ErrAuthFailed for a wrong pair and ErrAuthNotEnabled
    while auth is off.

    Raises:
        TypeError: `name` or `password` is not a str.
    """
    return rpc_pb2.AuthenticateRequest(
        name=text(name, "name"), password=text(password, "password")
    )


def user_add_request(
    name: str, password: Optional[str] = None, *, no_password: bool = False
) -> rpc_pb2.AuthUserAddRequest:
    """Builds an AuthUserAddRequest (Go ``UserAdd`` / ``UserAddWithOptions``).

    Args:
        name: the new user's name; must not be empty.
        password: its password; the server stores only a bcrypt hash.
        no_password: create a user without a password, which can only
            authenticate by TLS client certificate common name (etcd 3.4+).

    Raises:
        UserEmptyError: `name` is empty (what etcd answers).
        ValueError: both or neither of `password` and `no_password` given.
        TypeError: `name` or `password` is not a str.
    """
    name = text(name, "name")
    if no_password:
        if password is not None:
            raise ValueError(
                "no_password=True creates a user without a password: leave password out"
            )
        password = ""
    elif password is None:
        raise ValueError(
            "give the new user a password, or no_password=True for a user that"
            " authenticates by TLS common name only"
        )
    password = text(password, "password")
    if not name:
        raise UserEmptyError(
            details="user name must not be empty (etcd: user name is empty)"
        )
    from .._proto import auth_pb2

    return rpc_pb2.AuthUserAddRequest(
        name=name,
        password=password,
        options=auth_pb2.UserAddOptions(no_password=bool(no_password)),
    )


def user_delete_request(name: str) -> rpc_pb2.AuthUserDeleteRequest:
    """Builds an AuthUserDeleteRequest.

    Raises:
        TypeError: `name` is not a str.
    """
    return rpc_pb2.AuthUserDeleteRequest(name=text(name, "name"))


def user_get_request(name: str) -> rpc_pb2.AuthUserGetRequest:
    """Builds an AuthUserGetRequest: the roles granted to a user.

    Raises:
        TypeError: `name` is not a str.
    """
    return rpc_pb2.AuthUserGetRequest(name=text(name, "name"))


def user_list_request() -> rpc_pb2.AuthUserListRequest:
    """Builds an AuthUserListRequest: every user name."""
    return rpc_pb2.AuthUserListRequest()


def user_change_password_request(
    name: str, password: str
) -> rpc_pb2.AuthUserChangePasswordRequest:
    """Builds an AuthUserChangePasswordRequest.

    Raises:
        TypeError: `name` or `password` is not a str.
    """
    return rpc_pb2.AuthUserChangePasswordRequest(
        name=text(name, "name"), password=text(password, "password")
    )


def user_grant_role_request(name: str, role: str) -> rpc_pb2.AuthUserGrantRoleRequest:
    """Builds an AuthUserGrantRoleRequest: give user `name` role `role`.

    Raises:
        TypeError: `name` or `role` is not a str.
    """
    return rpc_pb2.AuthUserGrantRoleRequest(
        user=text(name, "name"), role=text(role, "role")
    )


def user_revoke_role_request(name: str, role: str) -> rpc_pb2.AuthUserRevokeRoleRequest:
    """Builds an AuthUserRevokeRoleRequest: take role `role` from user `name`.

    Raises:
        TypeError: `name` or `role` is not a str.
    """
    return rpc_pb2.AuthUserRevokeRoleRequest(
        name=text(name, "name"), role=text(role, "role")
    )


def role_add_request(role: str) -> rpc_pb2.AuthRoleAddRequest:
    """Builds an AuthRoleAddRequest.

    Raises:
        RoleEmptyError: `role` is empty (what etcd answers).
        TypeError: `role` is not a str.
    """
    if not text(role, "role"):
        raise RoleEmptyError(
            details="role name must not be empty (etcd: role name is empty)"
        )
    return rpc_pb2.AuthRoleAddRequest(name=role)


def role_delete_request(role: str) -> rpc_pb2.AuthRoleDeleteRequest:
    """Builds an AuthRoleDeleteRequest.

    Raises:
        TypeError: `role` is not a str.
    """
    return rpc_pb2.AuthRoleDeleteRequest(role=text(role, "role"))


def role_get_request(role: str) -> rpc_pb2.AuthRoleGetRequest:
    """Builds an AuthRoleGetRequest: the permissions of a role.

    Raises:
        TypeError: `role` is not a str.
    """
    return rpc_pb2.AuthRoleGetRequest(role=text(role, "role"))


def role_list_request() -> rpc_pb2.AuthRoleListRequest:
    """Builds an AuthRoleListRequest: every role name."""
    return rpc_pb2.AuthRoleListRequest()


def role_grant_permission_request(
    role: str,
    key: BytesLike,
    range_end: Optional[BytesLike] = None,
    *,
    perm: Union[str, int],
    prefix: bool = False,
) -> rpc_pb2.AuthRoleGrantPermissionRequest:
    """Builds an AuthRoleGrantPermissionRequest (Go ``RoleGrantPermission``).

    Args:
        role: the role to grant to.
        key: the key, or the first key of the range.
        range_end: exclusive end of the range; ``"\\0"`` means every key >=
            key.
        perm: "read", "write" or "readwrite".
        prefix: grant on every key starting with `key`.

    Raises:
        ValueError: an unknown `perm`; range_end with prefix; an empty key
            (EmptyKeyError) unless prefix=True; an empty range.
        TypeError: `role` not a str, `key` or `range_end` not str/bytes.
    """
    role = text(role, "role")
    perm_type = permission_type_enum(perm)
    key_bytes, end = resolve_range(key, range_end, prefix, False)
    if end and end != FROM_KEY_END and end <= key_bytes:
        raise ValueError(
            f"range_end {end!r} must sort after key {key_bytes!r}: the range"
            " [key, range_end) is empty and would grant nothing"
        )
    from .._proto import auth_pb2

    permission = auth_pb2.Permission(permType=perm_type, key=key_bytes, range_end=end)
    return rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=permission)


def role_revoke_permission_request(
    role: str,
    key: BytesLike,
    range_end: Optional[BytesLike] = None,
    *,
    prefix: bool = False,
) -> rpc_pb2.AuthRoleRevokePermissionRequest:
    """Builds an AuthRoleRevokePermissionRequest (Go ``RoleRevokePermission``).

    etcd removes the permission whose key and range end are exactly these
    (ErrPermissionNotGranted if none), so give the range as it was granted.

    Raises:
        ValueError: range_end with prefix; an empty key (EmptyKeyError)
            unless prefix=True.
        TypeError: `role` not a str, `key` or `range_end` not str/bytes.
    """
    role = text(role, "role")
    key_bytes, end = resolve_range(key, range_end, prefix, False)
    return rpc_pb2.AuthRoleRevokePermissionRequest(
        role=role, key=key_bytes, range_end=end
    )
