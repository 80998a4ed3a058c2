"""What a serial console shows: the states a login can be in, and the kernel lines printed over it (pure).

Each :class:`ConsoleState` has a pattern matched against what the console printed last (pexpect picks
the earliest match); the states that end a login attempt carry the message and hint the user sees.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# A kernel message printed on the console: "[   12.345678] nvme nvme0: ...".
KMSG = r"\[\s*\d+\.\d+\] [^\r\n]*"
# Kernel messages that may follow a prompt before we see it settle.
KMSG_TAIL = rf"(?:\r*\n?{KMSG}\r*\n)*"
_KERNEL_LINE_RE = re.compile(rf"^{KMSG}(?:\n|\Z)", re.MULTILINE)


class ConsoleState(enum.Enum):
    """What the console shows after a wake."""

    LOGIN = "login prompt"
    PASSWORD = "password prompt"
    LOGIN_INCORRECT = "Login incorrect"
    SHELL = "shell prompt"
    PASSWORD_CHANGE = "forced password change"
    ACCOUNT_EXPIRED = "account expired"
    ACCOUNT_LOCKED = "account locked"
    NO_LOGIN = "account not available"
    CONTINUATION = "shell continuation prompt"


# Localized prompts and messages, copied from the msgstr of the translation catalogues (po/<lang>.po) of
# de fr es it pt pt_BR ru pl nl ja zh_CN zh_TW (agetty's own "login: " is never translated, but login(1)
# asks again in the locale after a failure):
#   Linux-PAM (linux-pam/linux-pam, libpam/pam_get_authtok.c):  msgid "Password: ", "Current password: ",
#     "New password: "; modules/pam_unix: "You are required to change your password immediately
#     (administrator enforced)." / "(password expired).", "Your account has expired; please contact your
#     system administrator."; pam_faillock: "The account is locked due to %u failed logins.";
#   util-linux (login-utils/login.c): msgid "login: ", "Login incorrect\n\n", "Password: ";
#   shadow (src/login.c, lib/pwauth.c): msgid "%s login: ", "login: ", "Login incorrect", "Password: ".
# "Falsche Anmeldung" and "Connexion incorrecte" are in no current catalogue; they were reported from
# consoles (issue 9) and are kept. Spaces may be U+00A0 / U+202F (French typography) and colons full width.
LOGIN_WORDS = (
    "login",  # agetty, PAM's default, it/pl/pt_BR/ja shadow
    "Anmeldung",  # de: util-linux, shadow ("%s-Anmeldung: ")
    "identifiant",  # fr: util-linux
    "connexion",  # fr: shadow ("%s connexion : ")
    "Inicio de sesión",  # es: util-linux
    "nombre",  # es: shadow
    "nombre de usuario",  # es: Linux-PAM
    "sessão",  # pt: util-linux
    "credencial",  # pt: Linux-PAM
    "логин",  # ru: util-linux
    "имя пользователя",  # ru: shadow
    "учетная запись",  # ru: Linux-PAM
    "inlognaam",  # nl: util-linux
    "gebruikersnaam",  # nl: shadow, Linux-PAM
    "ログイン",  # ja: util-linux, Linux-PAM
    "登录",  # zh_CN: util-linux, Linux-PAM
    "用户名",  # zh_CN: shadow
    "登入",  # zh_TW: util-linux, Linux-PAM
    "使用者",  # zh_TW: shadow
    "使用者名稱",  # zh_TW: shadow ("\n%s login: ")
)
PASSWORD_WORDS = (
    "password",  # en; it (all three catalogues)
    "Passwort",  # de
    "Mot de passe",  # fr
    "Contraseña",  # es
    "Palavra-passe",  # pt: Linux-PAM, shadow
    "Senha",  # pt: util-linux; pt_BR
    "Пароль",  # ru
    "Hasło",  # pl
    "Wachtwoord",  # nl
    "パスワード",  # ja
    "密码",  # zh_CN
    "密碼",  # zh_TW
)
LOGIN_INCORRECT_TEXTS = (
    "Login incorrect",  # en; fr shadow
    "Anmeldung falsch",  # de: util-linux
    "Anmeldung fehlerhaft",  # de: shadow
    "Falsche Anmeldung",  # de: reported (issue 9)
    "Identifiant incorrect",  # fr: util-linux
    "Connexion incorrecte",  # fr: reported (issue 9)
    "Inicio de sesión incorrecto",  # es: util-linux
    "Identificación incorrecta",  # es: shadow
    "Login non corretto",  # it
    "Início incorrecto",  # pt: util-linux
    "Login incorrecto",  # pt: shadow
    "Login incorreto",  # pt_BR
    "Неверный логин",  # ru: util-linux
    "Неверное имя пользователя",  # ru: shadow
    "Niepoprawne logowanie",  # pl: util-linux
    "Nieprawidłowe logowanie",  # pl: shadow
    "Inloggegevens onjuist",  # nl: util-linux
    "Gebruikersnaam is onjuist",  # nl: shadow
    "ログインが失敗しました",  # ja: util-linux
    "ログインが違います",  # ja: shadow
    "登录不正确",  # zh_CN: util-linux
    "登录错误",  # zh_CN: shadow
    "登入不正確",  # zh_TW: util-linux
    "登入錯誤",  # zh_TW: util-linux, shadow
)
PASSWORD_CHANGE_TEXTS = (  # Linux-PAM: "Current password: " / "New password: " / "You are required to ..."
    "Geben Sie das aktuelle Passwort ein: ",
    "Geben Sie ein neues Passwort ein: ",
    "Sie müssen Ihr Passwort sofort ändern",
    "Mot de passe actuel",
    "Nouveau mot de passe",
    "Vous devez changer votre mot de passe immédiatement",
    "Contraseña actual",
    "Nueva contraseña",
    "cambie su contraseña inmediatamente",
    "Password attuale",
    "Nuova password",
    "È richiesta la modifica immediata della password",
    "Palavra-passe atual",
    "Nova palavra-passe",
    "altere de imediato a sua senha",
    "Atual senha",
    "Nova senha",
    "Mude sua senha imediatamente",
    "Текущий пароль",
    "Новый пароль",
    "Вам необходимо немедленно сменить пароль",
    "Obecne hasło",
    "Nowe hasło",
    "Wymagana jest natychmiastowa zmiana hasła",
    "Huidig wachtwoord",
    "Nieuw wachtwoord",
    "Je moet onmiddellijk je wachtwoord wijzigen",
    "現在のパスワード",
    "新しいパスワード",
    "パスワードを直ちに変更する必要があります",
    "当前的密码",
    "新的密码",
    "您必须立即更改密码",
    "目前密碼",
    "新 密碼",
    "您必須立刻變更您的密碼",
)
ACCOUNT_EXPIRED_TEXTS = (  # Linux-PAM pam_unix: "Your account has expired; please contact ..."
    "Ihr Konto ist abgelaufen",
    "Votre compte a expiré",
    "Su cuenta ha caducado",
    "Account scaduto",
    "A sua conta expirou",
    "Sua conta expirou",
    "Срок действия учетной записи истек",
    "Konto wygasło",
    "Je account is verlopen",
    "アカウントは失効しています",
    "您的帐户已过期",
    "您的帳戶已經過期",
)
ACCOUNT_LOCKED_TEXTS = (  # Linux-PAM pam_faillock: "The account is locked due to %u failed logins."
    "Das Konto ist wegen",
    "Le compte est temporairement verrouillé",
    "La cuenta está bloqueada",
    "Account bloccato",
    "Conta bloqueada",
    "Учетная запись заблокирована",
    "Konto zostało zablokowane",
    "Het account is vergrendeld",
    "アカウントはロックされました",
    "此帐户已锁定",
    "帳號已鎖定",
)

_SPACE = r"[ \u00a0\u202f]"
_COLON = rf"{_SPACE}?[:：]{_SPACE}?"


def _words(texts: tuple[str, ...]) -> str:
    """An alternation of ``texts``; any kind of space matches any space."""
    return "|".join(_SPACE.join(re.escape(part) for part in text.split()) for text in texts)


_PROMPT_END = rf"{_SPACE}?{KMSG_TAIL}\Z"


@dataclass(frozen=True)
class ConsolePrompts:
    """Extra regexes (from the inventory) for the login, password and shell prompts and for a failed login,
    tried after the built-in ones. A prompt regex must match at the end of what the console printed (an
    optional space and kernel lines may follow); a ``login_incorrect`` regex anywhere in it."""

    login: tuple[str, ...] = ()
    password: tuple[str, ...] = ()
    login_incorrect: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()

    def patterns(self) -> list[tuple[ConsoleState, re.Pattern[str]]]:
        """The built-in state patterns, then these (each regex is its own pattern, so its flags hold)."""
        extra: list[tuple[ConsoleState, re.Pattern[str]]] = []
        for state, regexes, anchored in (
            (ConsoleState.LOGIN_INCORRECT, self.login_incorrect, False),
            (ConsoleState.LOGIN, self.login, True),
            (ConsoleState.PASSWORD, self.password, True),
            (ConsoleState.SHELL, self.shell, True),
        ):
            for regex in regexes:
                extra.append((state, compile_prompt(regex, anchored=anchored)))
        return [*STATE_PATTERNS, *extra]


def compile_prompt(regex: str, *, anchored: bool = True) -> re.Pattern[str]:
    """``regex`` as a state pattern; raises ``ValueError`` when it does not compile or matches empty text
    (it would match whatever the console shows)."""
    try:
        plain = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"{regex!r} is not a valid regular expression: {exc}") from None
    if plain.fullmatch("") is not None or plain.search("") is not None:
        raise ValueError(f"{regex!r} matches an empty text, so it would match any console output")
    if not anchored:
        return plain
    flags = re.match(r"\(\?[aiLmsux]+\)", regex)
    head, body = (flags.group(0), regex[flags.end() :]) if flags else ("", regex)
    return re.compile(f"{head}(?:{body}){_PROMPT_END}")


# Order matters only for matches starting at the same place; pexpect picks the earliest match in the
# output, so "You are required to change your password ... Current password:" is a PASSWORD_CHANGE.
STATE_PATTERNS: list[tuple[ConsoleState, re.Pattern[str]]] = [
    (
        ConsoleState.PASSWORD_CHANGE,
        re.compile(
            r"(?i)you are required to change your password|your password has expired"
            r"|password change required|you must change your password|\(current\) unix password:"
            rf"|current password: ?{KMSG_TAIL}\Z|new password: ?{KMSG_TAIL}\Z"
            rf"|{_words(PASSWORD_CHANGE_TEXTS)}"
        ),
    ),
    (
        ConsoleState.ACCOUNT_EXPIRED,
        re.compile(rf"(?i)your account has expired|{_words(ACCOUNT_EXPIRED_TEXTS)}"),
    ),
    (
        ConsoleState.ACCOUNT_LOCKED,
        re.compile(rf"(?i)account (?:is |has been |temporarily )?locked|{_words(ACCOUNT_LOCKED_TEXTS)}"),
    ),
    (ConsoleState.NO_LOGIN, re.compile(r"(?i)this account is currently not available")),
    (ConsoleState.LOGIN_INCORRECT, re.compile(rf"(?i){_words(LOGIN_INCORRECT_TEXTS)}")),
    (ConsoleState.LOGIN, re.compile(rf"(?i)(?:{_words(LOGIN_WORDS)}){_COLON}{KMSG_TAIL}\Z")),
    (
        ConsoleState.PASSWORD,
        re.compile(rf"(?i)(?:{_words(PASSWORD_WORDS)})(?: for [^\r\n:]*)?{_COLON}{KMSG_TAIL}\Z"),
    ),
    # bash/sh/ksh "$ " / "# ", zsh and csh "% " (FreeBSD's root csh: "root@host:~ # ")
    (ConsoleState.SHELL, re.compile(rf"[#$%] {KMSG_TAIL}\Z")),
    (ConsoleState.CONTINUATION, re.compile(rf"(?:\A|[\r\n])(?:\x1b\[[0-9;?]*[A-Za-z])*> {KMSG_TAIL}\Z")),
]

FAILURES = {
    ConsoleState.PASSWORD_CHANGE: (
        "the password must be changed before logging in (expired or administrator-enforced); "
        "the change was aborted",
        "change the password on the console by hand, then update the stored console password",
    ),
    ConsoleState.ACCOUNT_EXPIRED: ("the account has expired", "renew it with `chage -E` on the guest"),
    ConsoleState.ACCOUNT_LOCKED: ("the account is locked", "unlock it (faillock --reset / passwd -u)"),
    ConsoleState.NO_LOGIN: ("the account has no login shell", "use an account with a shell"),
}


STATES = [pattern for _, pattern in STATE_PATTERNS]


def state_at(index: int) -> ConsoleState:
    """The state of ``STATES[index]``."""
    return STATE_PATTERNS[index][0]


def pattern_of(state: ConsoleState) -> re.Pattern[str]:
    return dict(STATE_PATTERNS)[state]


def patterns_of(
    state: ConsoleState, table: list[tuple[ConsoleState, re.Pattern[str]]] | None = None
) -> list[re.Pattern[str]]:
    """Every pattern of ``state`` in ``table`` (default: the built-in one)."""
    return [pattern for s, pattern in (STATE_PATTERNS if table is None else table) if s is state]


def strip_kernel_messages(text: str) -> str:
    """Normalise ``\\r\\n`` to ``\\n`` and drop kernel console lines (``[   12.345678] ...``)."""
    text = re.sub(r"\r+\n", "\n", text)
    return _KERNEL_LINE_RE.sub("", text)
