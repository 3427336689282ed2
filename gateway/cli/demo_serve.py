"""``gateway demo --serve``: after the exchange, keep the cooperative's gateway running, create a demo
admin (the accounts page), a demo support person and a demo member (unit PU-04711), print the pages'
address and the logins, and wait for Ctrl-C, so that a newcomer can click through the documents the demo
just exchanged."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Mapping
from types import FrameType

from gateway.bootstrap import SystemClock
from gateway.config import Role
from gateway.store import make_engine
from gateway.store.people import SQLPeopleStore
from gateway.web.accounts import save_account

#: The demo's people: name -> (role, units). Their password is random, printed once.
DEMO_PEOPLE = {
    "demo-admin": (Role.ADMIN, []),
    "demo-support": (Role.SUPPORT, []),
    "demo-member": (Role.MEMBER, ["PU-04711"]),
}


def create_demo_people(database_url: str) -> dict[str, str]:
    """Create (or replace) the demo's people in the cooperative's database; name -> password."""
    engine = make_engine(database_url)
    try:
        people = SQLPeopleStore(engine)
        passwords: dict[str, str] = {}
        for name, (role, units) in DEMO_PEOPLE.items():
            passwords[name] = secrets.token_urlsafe(12)
            save_account(people, name, role, units, passwords[name], clock=SystemClock())
        return passwords
    finally:
        engine.dispose()


def serve_until_interrupted(
    base_url: str, env: Mapping[str, str], *, stop: threading.Event | None = None
) -> None:
    """Print the address and the demo logins, then block until Ctrl-C / SIGTERM (or ``stop`` is set).

    Args:
        base_url: the cooperative's gateway (``gateway serve``) address.
        env: its environment (``GATEWAY_DATABASE__URL`` names its database).
        stop: ends the wait (tests); by default only a signal does.
    """
    passwords = create_demo_people(env["GATEWAY_DATABASE__URL"])
    stop = stop or threading.Event()
    print()
    print(f"demo: the cooperative's gateway keeps running: open {base_url}/web/")
    for name, (role, units) in DEMO_PEOPLE.items():
        scope = f", unit {', '.join(units)}" if units else ""
        print(f"demo:   log in as {name} / {passwords[name]}  ({role.value}{scope})")
    print("demo: press Ctrl-C to stop", flush=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = (
        signal.signal(signal.SIGTERM, _stop)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("demo: stopping the gateways")
