"""Who may open the explorer: this machine alone by default; any other address needs a login.

``tousu explore`` and ``tousu demo`` listen on 127.0.0.1 unless ``--host`` says otherwise. On an
address other machines can reach, the command refuses to start without one of ``--password-file``
(the explorer's own login form), ``--oidc`` (Streamlit's OpenID Connect login) or ``--no-auth`` (a
proxy in front authenticates). The choice reaches the app (``app.py``, through
:mod:`tousu.explorer.auth`) in environment variables, never the password itself.
"""
from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tousu.explorer.passwords import read_password_hash

DEFAULT_HOST = "127.0.0.1"
LOGIN_VARIABLE = "TOUSU_LOGIN"  # "password" or "oidc"; unset: no login
PASSWORD_FILE_VARIABLE = "TOUSU_PASSWORD_FILE"
# Streamlit's own login reads its settings from here, in the folder the command is started from.
OIDC_SECRETS = Path(".streamlit/secrets.toml")
OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
MIN_AUTHLIB = (1, 3, 2)  # what st.login needs
LOGIN_OPTIONS = ("--password-file FILE (a hash from `tousu hash-password`), --oidc (Streamlit's login, "
                 f"configured in the [auth] section of {OIDC_SECRETS}) or --no-auth (only behind a proxy that "
                 "authenticates)")


class AccessError(ValueError):
    """The explorer would be reachable without a login, or the chosen login cannot work."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``: localhost, 127.0.0.0/8 or ::1."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: other machines may resolve it to this one


@dataclass(frozen=True)
class Access:
    """Where the explorer listens and how its users log in."""

    host: str = DEFAULT_HOST
    password_file: Path | None = None  # absolute: the app runs in another folder
    oidc_secrets: Path | None = None  # Streamlit's secrets.toml with the [auth] section, absolute

    def environment(self) -> dict[str, str]:
        """The variables that tell ``app.py`` which login to show."""
        if self.password_file is not None:
            return {LOGIN_VARIABLE: "password", PASSWORD_FILE_VARIABLE: str(self.password_file)}
        if self.oidc_secrets is not None:
            return {LOGIN_VARIABLE: "oidc"}
        return {}


def checked_access(host: str = DEFAULT_HOST, password_file: str | Path | None = None, oidc: bool = False,
                   no_auth: bool = False) -> Access:
    """The access to serve with, after refusing what would expose the explorer or fail at the first login."""
    chosen = [name for name, given in (("--password-file", password_file is not None), ("--oidc", oidc),
                                       ("--no-auth", no_auth)) if given]
    if len(chosen) > 1:
        raise AccessError(f"choose one of {', '.join(chosen)}")
    if not chosen and not is_loopback(host):
        raise AccessError(f"--host {host} lets other machines open the explorer; it needs a login: {LOGIN_OPTIONS}")
    if password_file is not None:
        read_password_hash(password_file)  # a missing or malformed file stops here, not at the first login
    if oidc:
        check_oidc_ready(OIDC_SECRETS)
    return Access(host, Path(password_file).resolve() if password_file is not None else None,
                  OIDC_SECRETS.resolve() if oidc else None)


def check_oidc_ready(secrets: Path) -> None:
    """Refuse ``--oidc`` without Authlib or without the [auth] settings Streamlit's login needs."""
    try:
        version = tuple(int(part) for part in metadata.version("Authlib").split(".")[:3] if part.isdigit())
    except metadata.PackageNotFoundError:
        version = ()
    if version < MIN_AUTHLIB:
        raise AccessError("--oidc uses Streamlit's login, which needs Authlib "
                          f">= {'.'.join(map(str, MIN_AUTHLIB))}: pip install Authlib (or pip install 'tousu[oidc]')")
    try:
        settings = tomllib.loads(secrets.read_text(encoding="utf-8"))
    except OSError as error:
        raise AccessError(f"{secrets}: cannot read Streamlit's login settings ({error}); --oidc needs an [auth] "
                          f"section with {', '.join(OIDC_KEYS)}") from None
    except tomllib.TOMLDecodeError as error:
        raise AccessError(f"{secrets}: not valid TOML ({error})") from None
    auth = settings.get("auth")
    missing = [key for key in OIDC_KEYS if not isinstance(auth, dict) or key not in auth]
    if missing:
        raise AccessError(f"{secrets}: the [auth] section lacks {', '.join(missing)}")
