"""Interoperability check with Debian's python3-slixmpp.

Usage: slixmpp_chat.py HOST PORT
Logs in as alice@localhost and bob@localhost (password 'secret'), sends a
chat message from alice to bob, and bob answers it; exits 0 when alice gets
the answer, 1 otherwise. Bounded by a 30 s timeout.
"""
import asyncio

import slixmpptest


class Client(slixmpptest.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.register_plugin("xep_0199")


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
    slixmpptest.run(main)
