"""AsyncClient has Client's constructor and every method of it, with the
same parameters, as coroutines (API.md), except the three that return at
once (an object to await or iterate, or nothing to wait for)."""

from __future__ import annotations

import inspect

import pyetcd_wire as etcd

#: Plain in both clients: they return at once.
PLAIN = {"watch", "keep_alive", "set_endpoints"}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_same_methods_with_the_same_parameters():
    sync, aio = public(etcd.Client), public(etcd.AsyncClient)
    assert sync - aio == {"close"}
    assert aio - sync == {"aclose"}
    for name in sorted(sync & aio):
        sync_attr = getattr(etcd.Client, name)
        async_attr = getattr(etcd.AsyncClient, name)
        if not callable(sync_attr):
            continue
        sync_params = inspect.signature(sync_attr).parameters
        async_params = inspect.signature(async_attr).parameters
        assert sync_params == async_params, name  # return types differ


def test_every_method_is_a_coroutine_but_the_ones_that_return_at_once():
    for name in sorted(public(etcd.AsyncClient)):
        attr = getattr(etcd.AsyncClient, name)
        if not callable(attr) or isinstance(attr, type):
            continue
        awaited = inspect.iscoroutinefunction(attr) or inspect.isasyncgenfunction(attr)
        assert awaited is (name not in PLAIN), name


def test_the_same_constructor():
    assert inspect.signature(etcd.Client) == inspect.signature(etcd.AsyncClient)
