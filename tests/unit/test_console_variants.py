"""The console beyond English and bash (issue 9, item 18): localized login prompts and failures, a ``%``
prompt, a dash login shell, the inventory's extra prompt regexes and the login timeout, against the
scripted fake console (tests/unit/fake_console.py)."""

from __future__ import annotations

import subprocess
import time

import pytest

from agent.console.console_io import MAX_LINE, ConsoleTimeout, shell_quote
from agent.console.login_states import ConsolePrompts, ConsoleState, compile_prompt
from agent.errors import ConsoleError
from tests.unit.test_console_session import (  # noqa: F401 (fixtures)
    PASSWORD,
    USER,
    SessionFactory,
    StartConsole,
    fake,
    session_for,
    short_tmp,
)

pytestmark = pytest.mark.timeout(40)

LOCALES = ["de", "de-old", "fr", "fr-pam", "fr-old", "es", "pt", "pt_BR", "ru", "ru-shadow", "pl", "nl"]
LOCALES += ["ja", "zh_CN", "zh_TW"]

SCRIPT = """name0=x
name='O'"'"'Brien'
printf '%s|%s\\n' "$name" "größe: 100% — Привет, 世界"
if [ -n "$name" ]; then
  echo "tab:\there" | tr '\\t' '_'
fi
echo 'back\\slash' "$((6 * 7))"
"""
SCRIPT_OUTPUT = "O'Brien|größe: 100% — Привет, 世界\ntab:_here\nback\\slash 42\n"


@pytest.mark.parametrize("locale", LOCALES)
def test_localized_password_prompt_logs_in(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
    locale: str,
) -> None:
    console = session_for(fake(locale=locale))
    console.login(USER, PASSWORD)
    assert console.run("id -un").output == f"{USER}\n"


@pytest.mark.parametrize("locale", LOCALES)
def test_localized_login_incorrect_fails_at_once(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
    locale: str,
) -> None:
    guest = fake(locale=locale)
    console = session_for(guest)
    t0 = time.monotonic()
    with pytest.raises(ConsoleError) as err:
        console.login(USER, "wrong-password")
    assert str(err.value).startswith(f"console login failed for user {USER}: Login incorrect")
    assert time.monotonic() - t0 < 2.5  # recognised, not a timeout (FAST: 3 s per prompt)
    assert guest.failed_logins() == [USER]
    assert console.wake() is ConsoleState.LOGIN  # login(1)'s localized prompt is a login prompt


def test_percent_prompt_is_a_shell(fake: StartConsole, session_for: SessionFactory) -> None:  # noqa: F811
    console = session_for(fake(logged_in=USER, shell="percent"))
    assert console.wake() is ConsoleState.SHELL
    console.login(USER, None)
    assert console.run("echo fine").output == "fine\n"


@pytest.mark.parametrize("prompt", ["root@host:~ % ", "host% ", "# ", "root@xdev:~# ", "$ "])
def test_shell_prompts(prompt: str) -> None:
    from agent.console.login_states import STATE_PATTERNS

    hits = sorted((m.start(), s) for s, p in STATE_PATTERNS if (m := p.search("Last login: x\n" + prompt)))
    assert hits[0][1] is ConsoleState.SHELL


def test_dash_login_shell_runs_multi_line_scripts(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
) -> None:
    console = session_for(fake(shell="dash"))
    console.login(USER, PASSWORD)
    assert console.run("ps -o comm= -p $$").output.strip() == "dash"
    result = console.run(SCRIPT)
    assert (result.status, result.output) == (0, SCRIPT_OUTPUT)
    assert console.run("false\necho after; exit_code=3; (exit $exit_code)").status == 3


def test_dash_long_script_goes_over_as_a_file(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
) -> None:
    console = session_for(fake(shell="dash"), command_timeout=20)
    console.login(USER, PASSWORD)
    lines = [f"echo 'line {i}: ünïcödé \"quoted\"'" for i in range(150)]
    script = "\n".join(lines) + "\n"
    assert len(shell_quote(script)) > 2 * MAX_LINE
    result = console.run(script)
    assert result.status == 0
    assert result.output == "".join(f'line {i}: ünïcödé "quoted"\n' for i in range(150))
    assert console.run("ls -a /tmp | grep -c '^\\.gda-cmd-' || true").output.strip() == "0"


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_shell_quote_is_posix(shell: str) -> None:
    out = subprocess.run([shell, "-c", f"eval {shell_quote(SCRIPT)}"], capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (0, SCRIPT_OUTPUT, "")
    assert "$'" not in shell_quote(SCRIPT)
    assert all(" " <= ch <= "~" for ch in shell_quote(SCRIPT))


def test_inventory_prompts_are_added(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
) -> None:
    # without them the custom password prompt is not recognised: the login times out
    with pytest.raises(ConsoleTimeout):
        session_for(fake(locale="custom"), prompt_timeout=1.0).login(USER, PASSWORD)
    prompts = ConsolePrompts(password=("(?i)kennwort bitte>",), login_incorrect=("Nein[.]",))
    console = session_for(fake(locale="custom"), prompts=prompts)
    console.login(USER, PASSWORD)
    assert console.run("id -un").output == f"{USER}\n"
    console.logout()
    with pytest.raises(ConsoleError, match="Login incorrect"):
        session_for(fake(locale="custom"), prompts=prompts).login(USER, "wrong")


def test_login_timeout_bounds_the_whole_login(
    fake: StartConsole,  # noqa: F811
    session_for: SessionFactory,  # noqa: F811
) -> None:
    console = session_for(fake(busy=True), prompt_timeout=3.0, login_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(ConsoleTimeout, match=r"within login_timeout \(1s\)") as err:
        console.login(USER, PASSWORD)
    assert time.monotonic() - t0 < 2.0
    assert err.value.hint and "login_timeout" in err.value.hint


@pytest.mark.parametrize(
    ("regex", "problem"), [("(", "not a valid regular expression"), ("x*", "matches an empty text")]
)
def test_compile_prompt_refuses(regex: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compile_prompt(regex)


def test_compile_prompt_anchors_at_the_end_and_keeps_flags() -> None:
    pattern = compile_prompt("(?i)kennwort:")
    assert pattern.search("KENNWORT: ")
    assert pattern.search("Kennwort:\r\n[   1.000000] nvme0: ok\r\n")
    assert not pattern.search("Kennwort: and more")
