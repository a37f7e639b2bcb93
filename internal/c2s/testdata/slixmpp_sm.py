"""XEP-0198 stream management interoperability with Debian's python3-slixmpp.

Usage: slixmpp_sm.py HOST PORT
bob@localhost logs in with slixmpp's xep_0198 plugin, which enables
resumable stream management; alice@localhost (no stream management)
sends him messages:
  1. bob's stream management is enabled with an id and resumption;
  2. alice sends m1; bob receives it (and his plugin acknowledges it);
  3. bob's TCP connection is aborted (no closing tag), alice sends m2
     while he is away;
  4. bob reconnects; the plugin resumes the session (session_resumed)
     without binding again, and bob receives m2, and m1 not again;
  5. bob's messages to alice still flow after the resumption.
Exits 0 on success; otherwise prints the failed step and exits 1.
SLIXMPP_DEBUG=1 in the environment logs every stanza.
"""
import asyncio

import slixmpptest
from slixmpptest import STEP_TIMEOUT

ALICE = "alice@localhost"
BOB = "bob@localhost"


class Client(slixmpptest.Client):
    def __init__(self, jid, password, sm):
        super().__init__(jid, password)
        self.bodies = asyncio.Queue()
        self.add_event_handler("message", lambda m: self.bodies.put_nowait(m["body"]))
        self.register_plugin("xep_0199")
        if sm:
            self.register_plugin("xep_0198")
            self.enabled = asyncio.get_event_loop().create_future()
            self.resumed = asyncio.get_event_loop().create_future()
            self.add_event_handler("sm_enabled", self._on_enabled)
            self.add_event_handler("session_resumed", self._on_resumed)

    def _on_enabled(self, stanza):
        if not self.enabled.done():
            self.enabled.set_result(stanza)

    def _on_resumed(self, stanza):
        if not self.resumed.done():
            self.resumed.set_result(stanza)

    async def body(self, what):
        return await slixmpptest.step(what, self.bodies.get(), STEP_TIMEOUT)


async def main(host, port):
    alice = Client(ALICE + "/slix", "secret", False)
    bob = Client(BOB + "/sensor", "secret", True)
    for c in (alice, bob):
        c.connect((host, port))
    await slixmpptest.step("login", asyncio.gather(alice.ready, bob.ready), 20)
    enabled = await slixmpptest.step("bob's stream management is enabled", bob.enabled)
    sm = bob.plugin["xep_0198"]
    if not enabled["id"] or not sm.sm_id:
        raise RuntimeError("enabled without a resumption id: %s" % enabled)
    print("stream management enabled, id", sm.sm_id)
    try:
        alice.send_message(mto=BOB + "/sensor", mbody="m1", mtype="chat")
        got = await bob.body("bob receives m1")
        if got != "m1":
            raise RuntimeError("bob got %r, want m1" % got)
        sm.send_ack()
        # A round trip: the ack reached the server before the connection goes.
        await slixmpptest.step("bob pings the server", bob.plugin["xep_0199"].ping("localhost", timeout=STEP_TIMEOUT))

        gone = asyncio.get_event_loop().create_future()
        bob.add_event_handler("disconnected", lambda _: gone.done() or gone.set_result(True), disposable=True)
        bob.abort()
        await slixmpptest.step("bob's connection is gone", gone)
        alice.send_message(mto=BOB + "/sensor", mbody="m2", mtype="chat")
        # A round trip: m2 was routed before bob comes back.
        await slixmpptest.step("alice pings the server", alice.plugin["xep_0199"].ping("localhost", timeout=STEP_TIMEOUT))
        bob.connect((host, port))
        await slixmpptest.step("bob resumes his session", bob.resumed)
        got = await bob.body("bob receives m2 after resuming")
        if got != "m2":
            raise RuntimeError("after resuming bob got %r, want m2" % got)
        print("resumed; m2 delivered once")

        bob.send_message(mto=ALICE + "/slix", mbody="back", mtype="chat")
        got = await alice.body("alice receives bob's message after the resumption")
        if got != "back":
            raise RuntimeError("alice got %r" % got)
        try:
            extra = await asyncio.wait_for(bob.bodies.get(), 0.5)
            raise RuntimeError("bob got a duplicate: %r" % extra)
        except asyncio.TimeoutError:
            pass
        print("no duplicates; messages flow both ways")
    finally:
        for c in (alice, bob):
            c.disconnect()
        await asyncio.wait([asyncio.ensure_future(c.gone) for c in (alice, bob)], timeout=5)
    return 0


if __name__ == "__main__":
    slixmpptest.run(main)
