"""The options fleet mode adds: a repeatable option (``-g a -g b``), ``--forks``, and the per-endpoint
console lock of :mod:`agent.ops.connect`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from invoke.context import Context

from agent.cli.options import GdaTask, Invalid, Opt, forks, port
from agent.inventory import load_inventory
from agent.ops.connect import console_endpoint, console_lock

WAIT = 10.0


def _body(c: Context, guest: list[str] | None = None) -> None:
    pass


def _arg(task: GdaTask, name: str):  # type: ignore[no-untyped-def]
    return next(a for a in task.get_arguments() if a.name == name)


def test_a_repeatable_option_collects_every_value() -> None:
    arg = _arg(GdaTask(_body, opts={"guest": Opt("g", "g", repeat=True)}), "guest")
    assert arg.value == [] and not arg.got_value
    arg.value = "a"
    arg.value = "b"
    assert arg.value == ["a", "b"]


def test_invokes_iterable_argument_means_the_same() -> None:
    arg = _arg(GdaTask(_body, iterable=["guest"]), "guest")
    arg.value = "x"
    assert arg.value == ["x"]


def test_each_repeated_value_is_checked_and_the_first_refusal_stands() -> None:
    def body(c: Context, ports: list[str] | None = None) -> None:
        pass

    arg = _arg(GdaTask(body, opts={"ports": Opt("p", "p", port, repeat=True)}), "ports")
    arg.value = "22"
    assert arg.value == [22]
    arg.value = "99999"
    arg.value = "80"
    assert isinstance(arg.value, Invalid) and "is a TCP port" in arg.value.error.message


def test_forks() -> None:
    assert forks("1") == 1 and forks("100") == 100
    for bad in ("0", "101", "-3"):
        with pytest.raises(ValueError, match="guests at once"):
            forks(bad)


CONSOLES = """\
guests:
  a: {host: h, console: {tcp: "127.0.0.1:4555"}}
  b: {host: h, console: {tcp: "127.0.0.1:4555"}}
  c: {host: h, console: {tcp: "127.0.0.1:4556"}}
  d: {host: h, console: {ssh: {host: hv, command: vm console d}}}
  e: {host: h, console: {ssh: {host: hv, command: vm console d}}}
  f: {host: h, console: {ssh: {host: hv2, command: vm console d}}}
  g: {host: h, console: {unix: /run/g.sock}}
"""


def test_console_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(CONSOLES, encoding="utf-8")
    guests = load_inventory(path).guests
    ends = {}
    for name, guest in guests.items():
        assert guest.console is not None
        ends[name] = console_endpoint(guest.console)
    assert ends["a"] == ends["b"] != ends["c"], "the same TCP console is one endpoint"
    assert ends["d"] == ends["e"] != ends["f"], "an ssh console: its host and command"
    assert ends["g"] == ("unix", "/run/g.sock")


def test_one_endpoint_is_held_by_one_thread_at_a_time() -> None:
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with console_lock(("tcp", "127.0.0.1:1")):
            order.append("second in")

    with console_lock(("tcp", "127.0.0.1:1")):
        t = threading.Thread(target=second)
        t.start()
        with console_lock(("tcp", "127.0.0.1:2")):  # another endpoint is free meanwhile
            entered.set()
        order.append("first out")
    t.join(WAIT)
    assert entered.is_set() and order == ["first out", "second in"]
