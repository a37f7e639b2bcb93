"""XEP-0313 message archive interoperability with Debian's python3-slixmpp.

Usage: slixmpp_mam.py HOST PORT
Logs in as alice@localhost and bob@localhost, password 'secret', over
STARTTLS, with slixmpp's xep_0313, xep_0359 and xep_0441 plugins:
  1. alice and bob exchange five chat messages in turn (a1 b1 a2 b2 a3),
     each waiting for the one before it to arrive; every message carries
     the sender's origin-id and, as received, a stanza-id by the
     recipient's bare JID;
  2. alice retrieves her archive of the conversation with bob (retrieve,
     with_jid): the five bodies in order, each forwarded with a delay;
  3. alice iterates it two at a time (iterate with rsm max 2), forwards
     and backwards (reverse), and gets the same bodies in both orders;
  4. the IDs of bob's archive are the stanza-ids he saw;
  5. the archive metadata names alice's first and last message;
  6. alice sets her preferences (never, but always with bob) and reads
     them back.
Exits 0 on success; otherwise prints the failed step and exits 1. Bounded
by a 30 s timeout. SLIXMPP_DEBUG=1 in the environment logs every stanza.
"""
import asyncio

import slixmpptest
from slixmpp import JID
from slixmpp.exceptions import IqError
from slixmpptest import STEP_TIMEOUT

ALICE = "alice@localhost"
BOB = "bob@localhost"
BODIES = ["a1", "b1", "a2", "b2", "a3"]


class Client(slixmpptest.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.use_message_ids = True
        self.use_origin_id = True
        self.received = asyncio.Queue()
        self.add_event_handler("message", self._on_message)
        for p in ("xep_0059", "xep_0297", "xep_0203", "xep_0313", "xep_0359", "xep_0441"):
            self.register_plugin(p)

    def _on_message(self, msg):
        if msg["body"]:
            self.received.put_nowait(msg)


async def step(what, aw, timeout=STEP_TIMEOUT):
    try:
        return await slixmpptest.step(what, aw, timeout)
    except IqError as e:
        raise RuntimeError("%s: error reply %s" % (what, e.iq)) from None


def forwarded_body(msg):
    fwd = msg["mam_result"]["forwarded"]
    if not fwd["delay"]["stamp"]:
        raise RuntimeError("result without a delay stamp: %s" % msg)
    return fwd["stanza"]["body"]


async def main(host, port):
    alice = Client(ALICE + "/slix", "secret")
    bob = Client(BOB + "/slix", "secret")
    for c in (alice, bob):
        c.connect((host, port))
    await step("login", asyncio.gather(alice.ready, bob.ready), 20)
    print("logged in:", alice.boundjid, bob.boundjid)
    mam_a, mam_b = alice.plugin["xep_0313"], bob.plugin["xep_0313"]
    try:
        # 1. The conversation, in turn.
        seen_by_bob = []
        for body in BODIES:
            sender, recipient = (alice, bob) if body[0] == "a" else (bob, alice)
            msg = sender.make_message(mto=recipient.boundjid, mbody=body, mtype="chat")
            origin = msg["origin_id"]
            msg.send()
            got = await step("%s receives %s" % (recipient.boundjid.bare, body), recipient.received.get())
            sid = got["stanza_id"]
            if got["body"] != body or sid["by"] != recipient.boundjid.bare or not sid["id"]:
                raise RuntimeError("received %s, want %s with a stanza-id by %s" % (got, body, recipient.boundjid.bare))
            if not origin or got["origin_id"] != origin:
                raise RuntimeError("origin-id %r lost: %s" % (origin, got))
            if recipient is bob:
                seen_by_bob.append(sid["id"])
        print("exchanged", " ".join(BODIES), "with stanza-ids and origin-ids")

        # 2. Alice's archive with bob.
        iq = await step("alice retrieves her archive with bob",
                        mam_a.retrieve(jid=JID(ALICE), with_jid=JID(BOB), timeout=STEP_TIMEOUT))
        got = [forwarded_body(m) for m in iq["mam"]["results"]]
        if got != BODIES:
            raise RuntimeError("archive bodies %r, want %r: %s" % (got, BODIES, iq))
        if iq["mam_fin"].xml.get("complete") != "true":
            raise RuntimeError("fin not complete: %s" % iq)
        print("alice's archive:", " ".join(got))

        # 3. Paged, both ways.
        forwards = [forwarded_body(m) async for m in
                    mam_a.iterate(jid=JID(ALICE), with_jid=JID(BOB), rsm={"max": 2})]
        if forwards != BODIES:
            raise RuntimeError("paged forwards %r, want %r" % (forwards, BODIES))
        backwards = [forwarded_body(m) async for m in
                     mam_a.iterate(jid=JID(ALICE), with_jid=JID(BOB), reverse=True, rsm={"max": 2})]
        if backwards != BODIES[::-1]:
            raise RuntimeError("paged backwards %r, want %r" % (backwards, BODIES[::-1]))
        print("paged by two: forwards", " ".join(forwards), "backwards", " ".join(backwards))

        # 4. Bob's IDs are the stanza-ids he saw.
        iq = await step("bob retrieves his archive",
                        mam_b.retrieve(jid=JID(BOB), timeout=STEP_TIMEOUT))
        ids = [m["mam_result"]["id"] for m in iq["mam"]["results"]
               if m["mam_result"]["forwarded"]["stanza"]["from"].bare == ALICE]
        if ids != seen_by_bob:
            raise RuntimeError("bob's archive IDs %r, want the stanza-ids %r" % (ids, seen_by_bob))
        print("bob's archive IDs match his stanza-ids")

        # 5. Metadata.
        iq = await step("alice gets the archive metadata",
                        mam_a.get_archive_metadata(jid=JID(ALICE), timeout=STEP_TIMEOUT))
        first, last = iq["mam_metadata"]["start"]["id"], iq["mam_metadata"]["end"]["id"]
        all_ids = [m["mam_result"]["id"] for m in
                   (await step("alice retrieves everything",
                               mam_a.retrieve(jid=JID(ALICE), timeout=STEP_TIMEOUT)))["mam"]["results"]]
        if [first, last] != [all_ids[0], all_ids[-1]]:
            raise RuntimeError("metadata %s..%s, want %s..%s" % (first, last, all_ids[0], all_ids[-1]))
        print("metadata:", first, "to", last)

        # 6. Preferences.
        prefs = alice.plugin["xep_0441"]
        await step("alice sets her preferences",
                   prefs.set_preferences(default="never", always=[JID(BOB)], timeout=STEP_TIMEOUT))
        default, always, never = await step("alice reads her preferences",
                                            prefs.get_preferences(timeout=STEP_TIMEOUT))
        if default != "never" or {str(j) for j in always} != {BOB} or never:
            raise RuntimeError("preferences %r %r %r" % (default, always, never))
        print("preferences:", default, "always", sorted(str(j) for j in always))
    finally:
        for c in (alice, bob):
            c.disconnect()
        await asyncio.wait([asyncio.ensure_future(c.gone) for c in (alice, bob)], timeout=5)
    return 0


if __name__ == "__main__":
    slixmpptest.run(main)
