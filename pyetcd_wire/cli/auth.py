"""user, role and auth commands (user_command.go, role_command.go,
auth_command.go and printer_simple.go of etcdctl 3.5)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from . import gojson
from .context import Context
from .errors import bad_args
from .parsing import Commands, Run, add_bool_flag, flag

if TYPE_CHECKING:
    from .._proto import auth_pb2

# auth.proto Permission.Type numbers.
PERM_TYPES = {"read": 0, "write": 1, "readwrite": 2}
NameCall = Callable[[Context, str], Any]


def register(commands: Commands) -> None:
    _register_users(commands.group("user", "User related commands"))
    _register_roles(commands.group("role", "Role related commands"))
    auth = commands.group("auth", "Enable or disable authentication")
    auth.add("enable", "Enables authentication", run_auth_enable)
    auth.add("disable", "Disables authentication", run_auth_disable)
    auth.add("status", "Returns authentication status", run_auth_status)


def _register_users(user: Commands) -> None:
    add = user.add("add", "Adds a new user", run_user_add)
    add_bool_flag(
        add,
        "--interactive",
        True,
        "Read password from stdin instead of interactive terminal",
    )
    add.add_argument(
        "--new-user-password",
        default="",
        help="Supply password from the command line flag",
    )
    flag(
        add, "--no-password", help="Create a user without password (CN based auth only)"
    )
    user.add("delete", "Deletes a user", run_user_delete)
    flag(
        user.add("get", "Gets detailed information of a user", run_user_get),
        "--detail",
        help="Show permissions of roles granted to the user",
    )
    user.add("list", "Lists all users", run_user_list)
    passwd = user.add("passwd", "Changes password of user", run_user_passwd)
    add_bool_flag(
        passwd,
        "--interactive",
        True,
        "If true, read password from stdin instead of interactive terminal",
    )
    user.add("grant-role", "Grants a role to a user", run_user_grant)
    user.add("revoke-role", "Revokes a role from a user", run_user_revoke)


def _register_roles(role: Commands) -> None:
    role.add("add", "Adds a new role", run_role_add)
    role.add("delete", "Deletes a role", run_role_delete)
    role.add("get", "Gets detailed information of a role", run_role_get)
    role.add("list", "Lists all roles", run_role_list)
    grant = role.add("grant-permission", "Grants a key to a role", run_role_grant)
    revoke = role.add("revoke-permission", "Revokes a key from a role", run_role_revoke)
    for parser in (grant, revoke):
        flag(parser, "--prefix", help="grant a prefix permission")
        flag(parser, "--from-key", help="grant a permission of keys >= the given key")


def _one(args: argparse.Namespace, message: str) -> str:
    if len(args.args) != 1:
        raise bad_args(message)
    return str(args.args[0])


def _done(ctx: Context, resp: Any, simple: str) -> None:
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
    else:
        ctx.out.line(simple)


def _read_password(prompt: str, interactive: bool) -> str:
    if interactive:
        return getpass.getpass(prompt)
    words = sys.stdin.readline().split()
    return words[0] if words else ""


def run_user_add(ctx: Context, args: argparse.Namespace) -> None:
    name, colon, password = _one(
        args, "user add command requires user name as its argument"
    ).partition(":")
    if args.no_password:
        password_opt: Optional[str] = None
    elif colon:
        password_opt = password
    elif args.new_user_password:
        password_opt = args.new_user_password
    else:
        password_opt = _read_password(f"Password of {name}: ", args.interactive)
        if args.interactive:
            again = getpass.getpass(f"Type password of {name} again for confirmation: ")
            if again != password_opt:
                raise bad_args("given passwords are different.")
    resp = ctx.client.user_add(
        name, password_opt, no_password=args.no_password, timeout=ctx.timeout
    )
    _done(ctx, resp, f"User {name} created")


def _by_name(what: str, verb: str, call: NameCall, done: str) -> Run:
    """A command on one user or role, named by its argument."""
    message = f"{what} {verb} command requires {what} name as its argument"

    def run(ctx: Context, args: argparse.Namespace) -> None:
        name = _one(args, message)
        _done(ctx, call(ctx, name), f"{what.title()} {name} {done}")

    return run


run_user_delete = _by_name(
    "user",
    "delete",
    lambda c, name: c.client.user_delete(name, timeout=c.timeout),
    "deleted",
)
run_role_add = _by_name(
    "role", "add", lambda c, name: c.client.role_add(name, timeout=c.timeout), "created"
)
run_role_delete = _by_name(
    "role",
    "delete",
    lambda c, name: c.client.role_delete(name, timeout=c.timeout),
    "deleted",
)


def _listing(call: Callable[[Context], Any], names: str) -> Run:
    """user list, role list: the names, one a line."""

    def run(ctx: Context, args: argparse.Namespace) -> None:
        resp = call(ctx)
        if ctx.format == "json":
            ctx.out.line(gojson.dumps(gojson.message(resp)))
        else:
            ctx.out.lines(list(getattr(resp, names)))

    return run


run_user_list = _listing(lambda c: c.client.user_list(timeout=c.timeout), "users")
run_role_list = _listing(lambda c: c.client.role_list(timeout=c.timeout), "roles")


def run_user_get(ctx: Context, args: argparse.Namespace) -> None:
    name = _one(args, "user get command requires user name as its argument")
    resp = ctx.client.user_get(name, timeout=ctx.timeout)
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
        return
    if args.detail:
        ctx.out.line(f"User: {name}")
        for role in resp.roles:
            ctx.out.line()
            _show_role(ctx, role, ctx.client.role_get(role, timeout=ctx.timeout).perm)
        return
    ctx.out.line(f"User: {name}")
    ctx.out.line("Roles:" + "".join(f" {role}" for role in resp.roles))


def run_user_passwd(ctx: Context, args: argparse.Namespace) -> None:
    name = _one(args, "user passwd command requires user name as its argument")
    password = _read_password("Password of " + name + ": ", args.interactive)
    resp = ctx.client.user_change_password(name, password, timeout=ctx.timeout)
    _done(ctx, resp, "Password updated")


def _two(args: argparse.Namespace, command: str) -> List[str]:
    if len(args.args) != 2:
        raise bad_args(
            f"{command} command requires user name and role name as its argument"
        )
    return [str(a) for a in args.args]


def run_user_grant(ctx: Context, args: argparse.Namespace) -> None:
    user, role = _two(args, "user grant")
    resp = ctx.client.user_grant_role(user, role, timeout=ctx.timeout)
    _done(ctx, resp, f"Role {role} is granted to user {user}")


def run_user_revoke(ctx: Context, args: argparse.Namespace) -> None:
    user, role = _two(args, "user revoke-role")
    resp = ctx.client.user_revoke_role(user, role, timeout=ctx.timeout)
    _done(ctx, resp, f"Role {role} is revoked from user {user}")


def run_role_get(ctx: Context, args: argparse.Namespace) -> None:
    role = _one(args, "role get command requires role name as its argument")
    resp = ctx.client.role_get(role, timeout=ctx.timeout)
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
    else:
        _show_role(ctx, role, resp.perm)


def _show_role(ctx: Context, role: str, perms: Any) -> None:
    """printer_simple.go RoleGet."""
    ctx.out.line(f"Role {role}")
    for title, wanted in (("KV Read:", (0, 2)), ("KV Write:", (1, 2))):
        ctx.out.line(title)
        for perm in perms:
            if perm.permType in wanted:
                ctx.out.line(_perm_text(perm))


def _perm_text(perm: auth_pb2.Permission) -> bytes:
    from .._api.util import prefix_range_end

    key, end = perm.key, perm.range_end
    if not end:
        return b"\t" + key
    text = b"\t[" + key + b", " + (end + b")" if end != b"\x00" else b"<open ended>")
    if prefix_range_end(key) == end:
        text += b" (prefix " + key + b")"
    return text


def _perm_range(args: argparse.Namespace, key: str, rest: List[str]) -> Optional[str]:
    if args.prefix and args.from_key:
        raise bad_args("--from-key and --prefix flags are mutually exclusive")
    if rest:
        if args.prefix or args.from_key:
            raise bad_args("unexpected endkey argument with --prefix or --from-key")
        return rest[0]
    if args.prefix:
        from .._api.util import prefix_range_end

        return prefix_range_end(key.encode()).decode("utf-8", "surrogateescape")
    return "\x00" if args.from_key else None


def run_role_grant(ctx: Context, args: argparse.Namespace) -> None:
    if not 3 <= len(args.args) <= 4:
        raise bad_args(
            "role grant command requires role name, permission type, "
            "and key [endkey] as its argument"
        )
    role, perm, key = args.args[:3]
    if perm.lower() not in PERM_TYPES:
        raise bad_args(f"invalid permission type {perm}")
    end = _perm_range(args, key, args.args[3:])
    resp = ctx.client.role_grant_permission(
        role, key, end, perm=perm.lower(), timeout=ctx.timeout
    )
    _done(ctx, resp, f"Role {role} updated")


def run_role_revoke(ctx: Context, args: argparse.Namespace) -> None:
    if not 2 <= len(args.args) <= 3:
        raise bad_args(
            "role revoke-permission command requires role name "
            "and key [endkey] as its argument"
        )
    role, key = args.args[:2]
    end = _perm_range(args, key, args.args[2:])
    resp = ctx.client.role_revoke_permission(role, key, end, timeout=ctx.timeout)
    if not end:
        what = f"key {key}"
    elif end == "\x00":
        what = f"range [{key}, <open ended>"
    else:
        what = f"range [{key}, {end})"
    _done(ctx, resp, f"Permission of {what} is revoked from role {role}")


def run_auth_enable(ctx: Context, args: argparse.Namespace) -> None:
    _done(ctx, ctx.client.auth_enable(timeout=ctx.timeout), "Authentication Enabled")


def run_auth_disable(ctx: Context, args: argparse.Namespace) -> None:
    _done(ctx, ctx.client.auth_disable(timeout=ctx.timeout), "Authentication Disabled")


def run_auth_status(ctx: Context, args: argparse.Namespace) -> None:
    resp = ctx.client.auth_status(timeout=ctx.timeout)
    if ctx.format == "json":
        ctx.out.line(gojson.dumps(gojson.message(resp)))
        return
    ctx.out.line(f"Authentication Status: {'true' if resp.enabled else 'false'}")
    ctx.out.line(f"AuthRevision: {resp.authRevision}")
