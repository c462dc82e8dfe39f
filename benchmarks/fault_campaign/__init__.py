"""The fault campaign behind benchmarks/chaos.py: a 3-member etcd behind our
own proxies, faults mixed at random, a workload of sync and asyncio clients,
and the checks of what they saw against etcd's own history."""
