"""Interoperability check with Debian's python3-slixmpp.

Usage: slixmpp_chat.py HOST PORT
Logs in as alice@localhost and bob@localhost (password 'secret'), sends a
chat message from alice to bob, and bob answers it; exits 0 when alice gets
the answer, 1 otherwise. Bounded by a 30 s timeout.
"""
import asyncio
import ssl
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.ready = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_all_auth", self.on_failed)
        self.register_plugin("xep_0199")

    async def on_start(self, _):
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)

    def on_failed(self, _):
        if not self.ready.done():
            self.ready.set_exception(RuntimeError("authentication failed for %s" % self.boundjid))


async def main(host, port):
    alice = Client("alice@localhost/slix", "secret")
    bob = Client("bob@localhost/slix", "secret")
    answer = asyncio.get_event_loop().create_future()

    def bob_message(msg):
        if msg["type"] in ("chat", "normal") and msg["body"] == "ping from alice":
            msg.reply("pong from bob").send()

    def alice_message(msg):
        if msg["body"] == "pong from bob" and not answer.done():
            answer.set_result(str(msg["from"]))

    bob.add_event_handler("message", bob_message)
    alice.add_event_handler("message", alice_message)
    for c in (alice, bob):
        c.connect((host, port))
    await asyncio.wait_for(asyncio.gather(alice.ready, bob.ready), 20)
    # Wait for a ping round trip so bob's presence is processed before the
    # message (the server delivers bare-JID messages to available resources).
    await bob.plugin["xep_0199"].send_ping("localhost", timeout=10)
    alice.send_message(mto="bob@localhost", mbody="ping from alice", mtype="chat")
    sender = await asyncio.wait_for(answer, 20)
    print("alice got the answer from", sender)
    for c in (alice, bob):
        c.disconnect()
    return 0


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        rc = asyncio.run(asyncio.wait_for(main(host, port), 30))
    except Exception as e:  # noqa: BLE001 - report any failure as exit 1
        print("FAILED:", repr(e), file=sys.stderr)
        rc = 1
    sys.exit(rc)
