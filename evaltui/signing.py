"""SSH signatures for findings files and decision records, the mechanism git uses.

`ssh-keygen -Y sign` writes a detached signature (FILE.sig) for a namespace;
`ssh-keygen -Y find-principals` and `-Y verify` check it against an
allowed-signers file (one `principal key` line per person, as git's
gpg.ssh.allowedSignersFile). We call the OpenSSH binary rather than a Python
library: it is what teams already use for git, it reads their keys (agents,
hardware keys) as git does, and it needs no new dependency. OpenSSH 8.2 or
newer is needed; without it, signing and verifying say so and stop.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from evaltui.errors import InputError

FINDINGS = "evaltui-findings"
DECISION = "evaltui-decision"
TIMEOUT = 30


def _keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise InputError("ssh-keygen", "signing needs OpenSSH's ssh-keygen (8.2 or newer) on PATH")
    return found


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def sign(path: Path, key: Path, namespace: str) -> Path:
    """Sign `path` with the private key `key`; returns the detached signature's path."""
    if not key.is_file():
        raise InputError(str(key), "no such key file", field="--sign")
    sig = signature_path(path)
    sig.unlink(missing_ok=True)  # ssh-keygen refuses to overwrite
    done = subprocess.run(
        [_keygen(), "-Y", "sign", "-f", str(key), "-n", namespace, str(path)],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0 or not sig.exists():
        raise InputError(str(key), f"could not sign {path}: {done.stderr.strip()}", field="--sign")
    return sig


def verify(path: Path, allowed_signers: Path, namespace: str) -> str:
    """The principal whose valid signature `path`'s .sig carries, per `allowed_signers`.

    Raises InputError naming the file when there is no signature, no principal of
    the allowed-signers file signed it, or the signature does not match the bytes.
    """
    sig = signature_path(path)
    if not sig.is_file():
        raise InputError(str(path), f"no signature {sig.name} next to it", field="signature")
    if not allowed_signers.is_file():
        raise InputError(
            str(allowed_signers), "no such allowed-signers file", field="--allowed-signers"
        )
    keygen = _keygen()
    found = subprocess.run(
        [keygen, "-Y", "find-principals", "-s", str(sig), "-f", str(allowed_signers)],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    principals = [p for p in found.stdout.split() if p]
    if found.returncode != 0 or not principals:
        raise InputError(
            str(path), f"{sig.name} is not from anyone in {allowed_signers}", field="signature"
        )
    for principal in principals:
        with path.open("rb") as data:
            ok = subprocess.run(
                [keygen, "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", namespace,
                 "-s", str(sig)],
                stdin=data, capture_output=True, text=True, timeout=TIMEOUT,
            )  # fmt: skip
        if ok.returncode == 0:
            return principal
    raise InputError(
        str(path),
        f"{sig.name} does not match the file (edited after it was signed?)",
        field="signature",
    )
