"""Instant messaging and presence interoperability with Debian's python3-slixmpp.

Usage: slixmpp_im.py HOST PORT
Logs in as alice@localhost and bob@localhost (password 'secret') over
STARTTLS, then:
  1. alice asks bob for a subscription; bob's client accepts and subscribes
     back (slixmpp's auto_authorize and auto_subscribe); alice's client
     accepts (auto_authorize);
  2. both rosters show the other with subscription 'both' (as kept by
     slixmpp from the server's roster pushes, and in a fresh roster get),
     and each client received the other's available presence;
  3. a chat message goes each way;
  4. bob disconnects (alice sees him go unavailable), alice sends a chat
     message to bob's bare JID, bob logs in again, sends initial presence
     and receives that message with a urn:xmpp:delay element.
Exits 0 on success; otherwise prints the failed step and exits 1. Bounded
by a 30 s timeout. SLIXMPP_DEBUG=1 in the environment logs every stanza.
"""
import asyncio

import slixmpptest
from slixmpptest import STEP_TIMEOUT, step

ALICE = "alice@localhost"
BOB = "bob@localhost"


class Client(slixmpptest.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.available = {}  # bare JID -> future, set on available presence
        self.unavailable = {}  # bare JID -> future, set on unavailable presence
        self.messages = []
        self.message_event = asyncio.Event()
        self.add_event_handler("presence_available", self.on_available)
        self.add_event_handler("presence_unavailable", self.on_unavailable)
        self.add_event_handler("message", self.on_message)
        self.register_plugin("xep_0199")
        self.register_plugin("xep_0203")

    def _future(self, table, bare):
        if bare not in table:
            table[bare] = asyncio.get_event_loop().create_future()
        return table[bare]

    async def started(self):
        # RFC 6121 §2.2: the roster first, then initial presence.
        await self.get_roster(timeout=STEP_TIMEOUT)
        self.send_presence()

    def on_available(self, pres):
        f = self._future(self.available, pres["from"].bare)
        if not f.done():
            f.set_result(pres)

    def on_unavailable(self, pres):
        f = self._future(self.unavailable, pres["from"].bare)
        if not f.done():
            f.set_result(pres)

    def on_message(self, msg):
        self.messages.append(msg)
        self.message_event.set()

    async def presence_from(self, bare, what):
        return await step(what, self._future(self.available, bare))

    async def message(self, body, what):
        async def wait():
            while True:
                for m in self.messages:
                    if m["body"] == body:
                        return m
                self.message_event.clear()
                await self.message_event.wait()

        return await step(what, wait())


async def until(what, cond):
    """Polls cond until it holds; what() describes it on timeout."""
    async def poll():
        while not cond():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise RuntimeError("timed out: " + what()) from None


def subscription(client, contact):
    if contact not in client.client_roster:
        return "(no item)"
    return client.client_roster[contact]["subscription"]


async def check_roster_get(client, contact):
    """A full roster get (no 'ver': slixmpp's get_roster would send the
    version its pushes brought, and get an empty result, RFC 6121 §2.6.3)
    lists contact with subscription 'both'."""
    req = client.Iq()
    req["type"] = "get"
    req.enable("roster")
    iq = await req.send(timeout=STEP_TIMEOUT)
    items = iq["roster"]["items"]
    sub = items[contact]["subscription"] if contact in items else "(no item)"
    if sub != "both":
        raise RuntimeError("%s: roster get lists %s with subscription %s, want both (%s)"
                           % (client.boundjid, contact, sub, iq))
    print(client.boundjid.bare, "roster get:", contact, "subscription", sub)


async def main(host, port):
    alice = Client(ALICE + "/slix", "secret")
    bob = Client(BOB + "/slix", "secret")
    # bob accepts requests and asks back; alice only accepts.
    bob.auto_authorize, bob.auto_subscribe = True, True
    alice.auto_authorize, alice.auto_subscribe = True, False
    for c in (alice, bob):
        c.connect((host, port))
    await step("login", asyncio.gather(alice.ready, bob.ready), 20)
    print("logged in:", alice.boundjid, bob.boundjid)

    # 1-2. Subscriptions both ways.
    alice.send_presence(pto=BOB, ptype="subscribe")
    await until(lambda: "alice's roster shows bob with subscription both (now %s)" % subscription(alice, BOB),
                lambda: subscription(alice, BOB) == "both")
    await until(lambda: "bob's roster shows alice with subscription both (now %s)" % subscription(bob, ALICE),
                lambda: subscription(bob, ALICE) == "both")
    print("roster pushes: both ways subscribed")
    await alice.presence_from(BOB, "alice receives bob's available presence")
    await bob.presence_from(ALICE, "bob receives alice's available presence")
    print("available presence seen both ways")
    await check_roster_get(alice, BOB)
    await check_roster_get(bob, ALICE)

    # 3. Chat both ways.
    alice.send_message(mto=BOB, mbody="hello bob", mtype="chat")
    m = await bob.message("hello bob", "bob receives alice's message")
    if m["from"] != alice.boundjid:
        raise RuntimeError("bob's message is from %s, want %s" % (m["from"], alice.boundjid))
    m.reply("hello alice").send()
    m = await alice.message("hello alice", "alice receives bob's answer")
    if m["from"] != bob.boundjid:
        raise RuntimeError("alice's message is from %s, want %s" % (m["from"], bob.boundjid))
    print("messages exchanged")

    # 4. Offline message.
    bob.disconnect()
    await step("bob disconnects", bob.gone)
    await step("alice sees bob go unavailable", alice._future(alice.unavailable, BOB))
    alice.send_message(mto=BOB, mbody="while you were away", mtype="chat")
    # One session's stanzas are handled in order: once the ping is answered
    # the message is in offline storage.
    await step("alice pings the server", alice.plugin["xep_0199"].ping("localhost", timeout=STEP_TIMEOUT))
    bob2 = Client(BOB + "/slix", "secret")
    bob2.connect((host, port))
    try:
        await step("bob logs in again", bob2.ready)
        m = await bob2.message("while you were away", "bob receives the offline message")
        if m["from"] != alice.boundjid:
            raise RuntimeError("offline message is from %s, want %s" % (m["from"], alice.boundjid))
        if m.xml.find("{urn:xmpp:delay}delay") is None:
            raise RuntimeError("offline message has no urn:xmpp:delay delay element: %s" % m)
        print("offline message delivered, delayed since", m["delay"]["stamp"], "by", m["delay"]["from"])
    finally:
        bob2.disconnect()
        alice.disconnect()
        await asyncio.wait([asyncio.ensure_future(c.gone) for c in (alice, bob2)], timeout=5)
    return 0


if __name__ == "__main__":
    slixmpptest.run(main)
