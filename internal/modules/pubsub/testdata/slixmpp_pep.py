"""XEP-0163 PEP interoperability with Debian's python3-slixmpp.

Usage: slixmpp_pep.py HOST PORT
juliet@localhost and romeo@localhost (password 'secret', mutual presence
subscription set up by the Go test) log in over STARTTLS with slixmpp's
xep_0115 (entity capabilities), xep_0163 (PEP) and xep_0118 (User Tune)
plugins, which advertise http://jabber.org/protocol/tune+notify in their
caps; the server must learn that from slixmpp's own caps hash and answer:
  1. juliet publishes her tune with no 'to' (the node is auto-created);
     romeo and juliet's own resource receive the notification
     ('user_tune_publish') from juliet's bare JID, with the title;
  2. a second resource of romeo logs in afterwards and receives the last
     published tune, as PEP requires on initial presence.
Exits 0 on success; otherwise prints the failed step and exits 1.
SLIXMPP_DEBUG=1 in the environment logs every stanza.
"""
import asyncio

import slixmpptest
from slixmpptest import STEP_TIMEOUT

JULIET = "juliet@localhost"
ROMEO = "romeo@localhost"


class Client(slixmpptest.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.tunes = asyncio.Queue()
        for p in ("xep_0030", "xep_0115", "xep_0163", "xep_0118"):
            self.register_plugin(p)
        self.add_event_handler("user_tune_publish", self._on_tune)

    async def started(self):
        # The interest in tunes is registered at bind; make sure the caps
        # of the initial presence include it.
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        self.send_presence()

    def _on_tune(self, msg):
        self.tunes.put_nowait(msg)

    async def tune(self, what):
        msg = await slixmpptest.step(what, self.tunes.get(), STEP_TIMEOUT)
        if msg["from"] != JULIET:
            raise RuntimeError("%s: notification from %s, want %s" % (what, msg["from"], JULIET))
        return msg["pubsub_event"]["items"]["item"]["tune"]["title"]


async def main(host, port):
    juliet = Client(JULIET + "/balcony", "secret")
    romeo = Client(ROMEO + "/orchard", "secret")
    late = None
    for c in (juliet, romeo):
        c.connect((host, port))
    await slixmpptest.step("login", asyncio.gather(juliet.ready, romeo.ready), 20)
    print("logged in:", juliet.boundjid, romeo.boundjid)
    try:
        await slixmpptest.step("juliet publishes her tune",
                               juliet.plugin["xep_0118"].publish_tune(artist="Gerald Finzi", title="Introduction",
                                                                      timeout=STEP_TIMEOUT))
        for c in (romeo, juliet):
            title = await c.tune("%s receives juliet's tune" % c.boundjid)
            if title != "Introduction":
                raise RuntimeError("%s: tune title %r" % (c.boundjid, title))
        print("romeo and juliet's own resource received the tune")

        late = Client(ROMEO + "/late", "secret")
        late.connect((host, port))
        await slixmpptest.step("second romeo login", late.ready, 20)
        title = await late.tune("romeo's new resource receives the last tune")
        if title != "Introduction":
            raise RuntimeError("last tune title %r" % title)
        print("romeo's new resource received the last published tune")
    finally:
        clients = [c for c in (juliet, romeo, late) if c is not None]
        for c in clients:
            c.disconnect()
        await asyncio.wait([asyncio.ensure_future(c.gone) for c in clients], timeout=5)
    return 0


if __name__ == "__main__":
    slixmpptest.run(main)
