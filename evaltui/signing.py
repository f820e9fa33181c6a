"""SSH signatures for findings files and decision records, the mechanism git uses.

`ssh-keygen -Y sign` writes a detached signature (FILE.sig) for a namespace;
`ssh-keygen -Y find-principals` and `-Y verify` check it against an
allowed-signers file (one `principal key` line per person, as git's
gpg.ssh.allowedSignersFile). We call the OpenSSH binary rather than a Python
library: it is what teams already use for git, it reads their keys (agents,
hardware keys) as git does, and it needs no new dependency. OpenSSH 8.2 or
newer is needed; without it, signing and verifying say so and stop.

What is verified is what is read: a file is read once, from a regular file and
bounded (`snapshot`), and those bytes are both given to ssh-keygen (on its
stdin) and imported, so a file swapped or renamed between two reads cannot
pass one check and deliver other bytes. ssh-keygen reads only copies evaltui
made in a private temporary folder: no user-given name reaches it as an
argument (a name starting with `-` is never taken for an option).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from evaltui import files
from evaltui.errors import InputError

FINDINGS = "evaltui-findings"
DECISION = "evaltui-decision"
JUDGMENTS = "evaltui-judgments"  # `calibrate export --sign` (#27)
TIMEOUT = 30
MAX_SIG_BYTES = 64 << 10  # a detached SSH signature is about 300 bytes (EVALTUI_MAX_SIG_BYTES)
MAX_SIGNERS_BYTES = 1 << 20  # an allowed-signers file (EVALTUI_MAX_SIGNERS_BYTES)


def _keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise InputError("ssh-keygen", "signing needs OpenSSH's ssh-keygen (8.2 or newer) on PATH")
    return found


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def read_small(path: Path, what: str, limit: int, field: str | None = None) -> bytes:
    """A small regular file read whole, at most `limit` bytes (refused past it, unread)."""
    return files.read_regular(path, what, limit, field=field)


def snapshot(path: Path, what: str, limit: int, env: str) -> tuple[IO[bytes], str]:
    """The bytes of `path`, read once (a regular file, at most `limit` bytes) into an
    anonymous temporary file, and their sha256. Everything after reads the copy."""
    copy = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller, who closes it)
    digest = hashlib.sha256()
    size = 0
    try:
        with files.open_regular(path, what) as fh:
            while block := fh.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise InputError(
                        str(path), f"the {what} is larger than {limit:,} bytes ({env})"
                    )
                digest.update(block)
                copy.write(block)
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    return copy, digest.hexdigest()


def sign(path: Path, key: Path, namespace: str) -> Path:
    """Sign `path` with the private key `key`; returns the detached signature's path."""
    if not key.is_file():
        raise InputError(str(key), "no such key file", field="--sign")
    sig = signature_path(path)
    sig.unlink(missing_ok=True)  # ssh-keygen refuses to overwrite
    done = subprocess.run(  # absolute paths: a name starting with "-" is never an option
        [
            _keygen(),
            "-Y",
            "sign",
            "-f",
            os.path.abspath(key),
            "-n",
            namespace,
            os.path.abspath(path),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0 or not sig.exists():
        raise InputError(str(key), f"could not sign {path}: {done.stderr.strip()}", field="--sign")
    return sig


_SIGNERS_LINE = re.compile(r"^(?:.*/)?allowed_signers:(\d+): (.*)$")


def _cause(stderr: str, sig_name: str, namespace: str, allowed_signers: Path) -> str:
    """The reason ssh-keygen gives, in words naming the real files (never its temp copies)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if "namespace does not match" in ln:
            return (
                f"{sig_name} was made for another purpose than {namespace!r} (ssh-keygen: "
                "namespace does not match; a findings file's signature on a decision record, "
                "or the reverse?)"
            )
        if "incorrect signature" in ln:
            return f"{sig_name} does not match the file (edited after it was signed?)"
    for ln in lines:
        m = _SIGNERS_LINE.match(ln)
        if m:
            hint = (
                " (a principal holding a space must be in double quotes)"
                if "bad options" in m.group(2)
                else ""
            )
            return f"{allowed_signers}, line {m.group(1)}: {m.group(2)}{hint}"
    for ln in lines:
        if "invalid" in ln.lower() or "couldn't" in ln.lower() or "error" in ln.lower():
            return f"ssh-keygen could not verify {sig_name}: {ln}"
    return ""


def verify(
    path: Path, allowed_signers: Path, namespace: str, *, data: bytes | IO[bytes] | None = None
) -> str:
    """The principal whose valid signature `path`'s .sig carries, per `allowed_signers`.

    `data`: the bytes to check (what the caller read and will use); without it,
    `path` is read once here. Raises InputError naming the file when there is no
    signature, no principal of the allowed-signers file signed it, or the
    signature does not check, with ssh-keygen's reason.
    """
    sig = signature_path(path)
    if not os.path.lexists(sig):
        raise InputError(str(path), f"no signature {sig.name} next to it", field="signature")
    sig_bytes = read_small(
        sig, "signature", files.env_limit("EVALTUI_MAX_SIG_BYTES", MAX_SIG_BYTES), field="signature"
    )
    signers = read_small(
        allowed_signers,
        "allowed-signers file",
        files.env_limit("EVALTUI_MAX_SIGNERS_BYTES", MAX_SIGNERS_BYTES),
        field="--allowed-signers",
    )
    keygen = _keygen()
    with contextlib.ExitStack() as stack:
        if data is None:
            data = stack.enter_context(snapshot(path, "file", 1 << 30, "")[0])
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evaltui-verify-"))
        sig_copy, signers_copy = Path(tmp, "signature"), Path(tmp, "allowed_signers")
        sig_copy.write_bytes(sig_bytes)
        signers_copy.write_bytes(signers)
        found = subprocess.run(
            [keygen, "-Y", "find-principals", "-s", str(sig_copy), "-f", str(signers_copy)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        # one principal a line: a principal may hold a space ("ana smith", quoted in the file)
        principals = [p.strip() for p in found.stdout.splitlines() if p.strip()]
        if found.returncode != 0 or not principals:
            cause = _cause(found.stderr, sig.name, namespace, allowed_signers)
            raise InputError(
                str(path),
                cause or f"{sig.name} is not from anyone in {allowed_signers}",
                field="signature",
            )
        errors = []
        for principal in principals:
            argv = [
                keygen,
                "-Y",
                "verify",
                "-f",
                str(signers_copy),
                "-I",
                principal,
                "-n",
                namespace,
                "-s",
                str(sig_copy),
            ]
            if isinstance(data, bytes):
                ok = subprocess.run(argv, input=data, capture_output=True, timeout=TIMEOUT)
            else:
                data.seek(0)
                ok = subprocess.run(argv, stdin=data, capture_output=True, timeout=TIMEOUT)
            if ok.returncode == 0:
                return principal
            errors.append(ok.stderr.decode("utf-8", "replace"))
    cause = _cause("\n".join(errors), sig.name, namespace, allowed_signers)
    raise InputError(
        str(path),
        cause or f"{sig.name} does not check against {allowed_signers}",
        field="signature",
    )


# -- team events: a signature over an event's hash, checked against a registered key ------

TEAM = "evaltui-team"
_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]{16,8000}={0,3})(?: [^\n]*)?$"
)


def public_key(text: str) -> str:
    """An OpenSSH public key line as kept (`TYPE BASE64`, its comment dropped); ValueError
    when it is not one (a private key, two lines, an unknown type)."""
    m = _PUBLIC_KEY.match(text.strip())
    if m is None:
        raise ValueError(
            "not an OpenSSH public key line (`ssh-ed25519 AAAA... comment`, as in KEY.pub)"
        )
    return f"{m.group(1)} {m.group(2)}"


def sign_texts(texts: list[str], key: Path, namespace: str) -> list[str]:
    """Detached signatures (armored text) of each text, by the private key `key`, made by
    one ssh-keygen for the whole list (it signs several files in one run)."""
    if not texts:
        return []
    if not key.is_file():
        raise InputError(str(key), "no such key file", field="signing key")
    with tempfile.TemporaryDirectory(prefix="evaltui-sign-") as tmp:
        paths = [Path(tmp, str(i)) for i in range(len(texts))]
        for path, text in zip(paths, texts, strict=True):
            path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [
                _keygen(),
                "-q",
                "-Y",
                "sign",
                "-f",
                os.path.abspath(key),
                "-n",
                namespace,
                *map(str, paths),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT + len(texts) // 10,
            stdin=subprocess.DEVNULL,
        )
        sigs = [signature_path(p) for p in paths]
        if done.returncode != 0 or not all(s.exists() for s in sigs):
            raise InputError(
                str(key), f"could not sign: {done.stderr.strip()}", field="signing key"
            )
        return [s.read_text(encoding="ascii") for s in sigs]


class KeyVerifier:
    """Checks signatures over small texts against public keys, one ssh-keygen run each;
    its temporary folder (one allowed-signers file a key) lives until `close`."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="evaltui-verify-")
        self._signers: dict[str, Path] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    def _signers_file(self, key: str) -> Path:
        found = self._signers.get(key)
        if found is None:
            found = Path(self._tmp.name, f"signers{len(self._signers)}")
            found.write_text(f"member {public_key(key)}\n", encoding="ascii")
            self._signers[key] = found
        return found

    def problem(self, text: str, signature: str, key: str, namespace: str) -> str | None:
        """None when `signature` is the key's signature of `text` for `namespace`; else
        why not, in ssh-keygen's words."""
        if len(signature) > MAX_SIG_BYTES or not signature.isascii():
            return "the signature is not an SSH signature"
        sig = Path(self._tmp.name, "signature")
        sig.write_text(signature, encoding="ascii")
        done = subprocess.run(
            [
                _keygen(),
                "-Y",
                "verify",
                "-f",
                str(self._signers_file(key)),
                "-I",
                "member",
                "-n",
                namespace,
                "-s",
                str(sig),
            ],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT,
        )
        if done.returncode == 0:
            return None
        said = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines()]
        return "; ".join(ln for ln in said if ln)[:300] or "ssh-keygen: no valid signature"


def verify_text(text: str, signature: str, allowed_signers: Path, namespace: str) -> str:
    """The principal of `allowed_signers` whose `signature` (armored) is over `text` for
    `namespace` (as `verify` checks a file and its .sig; a team's shared decision record).
    InputError, naming `decision.json`, when it is not."""
    if len(signature) > MAX_SIG_BYTES or not signature.isascii():
        raise InputError(
            "decision.json", "the signature is not an SSH signature", field="signature"
        )
    data = text.encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="evaltui-verify-") as tmp:
        path = Path(tmp, "decision.json")
        path.write_bytes(data)
        signature_path(path).write_text(signature, encoding="ascii")
        return verify(path, allowed_signers, namespace, data=data)
