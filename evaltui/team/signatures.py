"""Signatures on team events: made on push, checked on pull (docs/team.md, "Signatures").

A member's public key is registered in the team store by the admin (`team add-member
--key KEY.pub`, kept in `members.signing_key`, never changed once set); the member's
store signs with the private key named at `team join --sign-key KEY` (the path is kept,
never the key). The signature is OpenSSH's (`ssh-keygen -Y sign`, namespace
`evaltui-team`, as findings files and decision records are signed: evaltui/signing.py)
over the event's hash, which commits to its content and its whole chain.

On pull, after the hash and chain check, `SignatureCheck` refuses, naming the event and
its author:

- an event with no signature whose author has a registered key, or any event without a
  signature in a project that requires signatures (`team init --signed`);
- a signature that does not verify against the author's registered key;
- any event of an author whose registered key differs from the one this store read
  first (pinned in the store's settings): a key swapped on the server.

A refused event is kept out of the findings (the ledger holds it as `refused`, with the
reason) and so is every later event of its chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evaltui import signing
from evaltui.errors import InputError
from evaltui.store.store import Store
from evaltui.team import TeamError
from evaltui.team.events import TeamEvent

SIGN_KEY_SETTING = "team.sign_key"  # the path of the private key this store signs with
PINNED_SETTING = "team.keys"  # each member's registered key as this store first read it


def sign_key(store: Store) -> Path | None:
    value = store.get_setting(SIGN_KEY_SETTING)
    return Path(value) if isinstance(value, str) and value else None


def sign(events: list[TeamEvent], key: Path) -> list[TeamEvent]:
    """The events, each with its author's signature over its hash."""
    try:
        sigs = signing.sign_texts([e.hash for e in events], key, signing.TEAM)
    except InputError as exc:
        raise TeamError(f"signing team events with {key}: {exc.detail}") from None
    return [replace(e, signature=s) for e, s in zip(events, sigs, strict=True)]


def check_own_key(key: Path, registered: str | None, reviewer: str) -> None:
    """Refuse a signing key whose signatures the team would refuse (not the registered
    key of this login's reviewer)."""
    if registered is None:
        return
    probe = "evaltui-team key check"
    (sig,) = signing.sign_texts([probe], key, signing.TEAM)
    verifier = signing.KeyVerifier()
    try:
        problem = verifier.problem(probe, sig, registered, signing.TEAM)
    finally:
        verifier.close()
    if problem is not None:
        raise TeamError(
            f"{key} is not the key registered for {reviewer!r} in the team store (its "
            "signatures would be refused): use the private key of the public key the admin "
            "registered (`team add-member --key`)"
        )


@dataclass
class SignatureCheck:
    """The pull-side check: call it with each event whose hash and chain are sound."""

    keys: dict[str, str | None]  # reviewer -> registered key (None: none), from the server
    required: bool  # the project requires every event to be signed
    pinned: dict[str, str] = field(default_factory=dict)  # the keys this store read first
    verifier: signing.KeyVerifier = field(default_factory=signing.KeyVerifier)
    checked: int = 0

    def __call__(self, event: TeamEvent) -> str | None:
        author = event.author
        key = self.keys.get(author)
        pinned = self.pinned.get(author)
        if pinned is not None and key != pinned:
            return (
                f"its author {author!r}'s registered signing key on the server is not the "
                f"key this store read first ({pinned[:40]}...): the key was changed or "
                "removed on the server, so nothing of theirs is taken"
            )
        if key is None:
            if self.required:
                return (
                    f"the project requires signatures and its author {author!r} has no "
                    "registered signing key (or is not a member)"
                )
            return None
        if not event.signature:
            return (
                f"it carries no signature, and its author {author!r} has a registered "
                "signing key: written past evaltui (a database superuser?) or without the key"
            )
        self.checked += 1
        problem = self.verifier.problem(event.hash, event.signature, key, signing.TEAM)
        if problem is not None:
            return f"its signature does not verify against {author!r}'s registered key ({problem})"
        return None

    def close(self) -> None:
        self.verifier.close()


def for_store(store: Store, members: list[dict[str, Any]], required: bool) -> SignatureCheck:
    """The check for a sync of this store: the server's keys, pinned here on first sight
    (in the caller's write: the setting is written at once)."""
    keys = {m["reviewer"]: m.get("signing_key") for m in members}
    value = store.get_setting(PINNED_SETTING, {}, limit=1_000_000)
    pinned = dict(value) if isinstance(value, dict) else {}
    new = {r: k for r, k in keys.items() if k is not None and r not in pinned}
    if new:
        pinned.update(new)
        store.set_setting(PINNED_SETTING, pinned, log=False)
    return SignatureCheck(keys, required, pinned)
