"""The lab's wait for getty's prompt in the console log (agent/lab/control.py)."""

from __future__ import annotations

from agent.lab.control import LOGIN_PROMPT


def test_login_prompt_at_the_end_of_a_line() -> None:
    assert LOGIN_PROMPT.search(b"Debian GNU/Linux 12 xdev ttyS0\n\nxdev login: ")
    assert LOGIN_PROMPT.search(b"xdev login:\nmore")


def test_login_prompt_followed_by_a_kernel_message() -> None:
    # seen under load: the kernel prints on the console right after getty's prompt, on the same line
    assert LOGIN_PROMPT.search(b"xdev login: [   14.201934] random: crng init done\n")


def test_not_a_login_prompt() -> None:
    assert not LOGIN_PROMPT.search(b"Last login: Tue Dec  1 22:11:36 UTC 2026 on ttyS0\n")
