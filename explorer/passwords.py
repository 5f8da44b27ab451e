"""Password hashes for the explorer's login: salted scrypt on one line, its parameters inside.

``tousu hash-password`` prints such a line; ``tousu explore --password-file FILE`` reads it. The line
holds ``scrypt$n=16384,r=8,p=1$<salt>$<key>`` (salt and key in base64), so that stronger parameters
can be chosen later without breaking the files written now.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB and ~50 ms a check: slow to guess, quick to log in
SALT_BYTES = 16
KEY_BYTES = 32
# A hand-edited file must not make each login allocate gigabytes.
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**20, 32, 16
_LINE = re.compile(r"scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})")


class PasswordFileError(ValueError):
    """A password file that cannot be read or does not hold a hash line; the message names the file."""


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    @classmethod
    def of(cls, password: str) -> PasswordHash:
        """A new hash of ``password`` with a random salt."""
        salt = os.urandom(SALT_BYTES)
        return cls(SCRYPT_N, SCRYPT_R, SCRYPT_P, salt, _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES))

    @classmethod
    def parse(cls, line: str) -> PasswordHash:
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise ValueError("not a line printed by `tousu hash-password` (scrypt$n=…,r=…,p=…$salt$key)")
        n, r, p = (int(value) for value in match.group(1, 2, 3))
        if not (1 < n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 0 < r <= MAX_SCRYPT_R and 0 < p <= MAX_SCRYPT_P):
            raise ValueError(f"scrypt parameters n={n}, r={r}, p={p} out of range (n a power of 2 up to "
                             f"{MAX_SCRYPT_N}, r up to {MAX_SCRYPT_R}, p up to {MAX_SCRYPT_P})")
        try:
            salt, key = (base64.b64decode(part, validate=True) for part in match.group(4, 5))
        except binascii.Error as error:
            raise ValueError(f"salt or key is not valid base64 ({error})") from None
        if len(salt) < SALT_BYTES or len(key) < KEY_BYTES:
            raise ValueError(f"salt or key too short (at least {SALT_BYTES} and {KEY_BYTES} bytes)")
        return cls(n, r, p, salt, key)

    def line(self) -> str:
        encode = base64.b64encode
        return f"scrypt$n={self.n},r={self.r},p={self.p}${encode(self.salt).decode()}${encode(self.key).decode()}"

    def matches(self, password: str) -> bool:
        # Constant time: how long the comparison takes says nothing about how much of the key was right.
        return hmac.compare_digest(_derive(password, self.salt, self.n, self.r, self.p, len(self.key)), self.key)


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # scrypt needs 128·n·r bytes; OpenSSL refuses more than 32 MiB unless allowed.
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * n * r + 2**20)


def read_password_hash(path: str | Path) -> PasswordHash:
    """The hash in ``path`` (its first non-empty line); :class:`PasswordFileError` naming the file otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PasswordFileError(f"{path}: cannot read the password file ({error})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise PasswordFileError(f"{path}: the password file is empty; write one with "
                                f"`tousu hash-password > {path}`")
    try:
        return PasswordHash.parse(lines[0])
    except ValueError as error:
        raise PasswordFileError(f"{path}: {error}; write a new one with `tousu hash-password > {path}`") from None
