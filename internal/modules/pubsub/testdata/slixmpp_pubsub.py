"""XEP-0060 publish-subscribe interoperability with Debian's python3-slixmpp.

Usage: slixmpp_pubsub.py HOST PORT
Logs in as alice@localhost (the owner) and bob@localhost (the subscriber),
password 'secret', over STARTTLS, and with slixmpp's xep_0060 plugin and a
xep_0004 configuration form against pubsub.localhost:
  1. alice creates the node 'slix' with pubsub#max_items 5,
     pubsub#access_model open, notify_retract and notify_delete, and reads
     the configuration back;
  2. bob (available, so that notifications to his bare JID reach him)
     subscribes;
  3. alice publishes two items with payloads; bob receives both
     notifications (event 'pubsub_publish') with their payloads;
  4. bob retrieves the items (get_items) and sees both;
  5. alice retracts one; bob receives the retraction ('pubsub_retract') and
     the node keeps the other item;
  6. alice purges the node ('pubsub_purge'; the node is empty afterwards),
     then deletes it; bob receives the deletion ('pubsub_delete') and
     asking for the node's configuration fails with item-not-found.
Exits 0 on success; otherwise prints the failed step and exits 1. Bounded
by a 30 s timeout. SLIXMPP_DEBUG=1 in the environment logs every stanza.
"""
import asyncio
import xml.etree.ElementTree as ET

import slixmpptest
from slixmpp.exceptions import IqError
from slixmpptest import STEP_TIMEOUT

ALICE = "alice@localhost"
BOB = "bob@localhost"
SERVICE = "pubsub.localhost"
NODE = "slix"
NS_TEST = "urn:example:slixmpp-pubsub"


class Client(slixmpptest.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.events = []  # (kind, message)
        self.event_signal = asyncio.Event()
        for kind in ("publish", "retract", "purge", "delete"):
            self.add_event_handler("pubsub_" + kind, self._recorder(kind))
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0060")

    def _recorder(self, kind):
        def record(msg):
            self.events.append((kind, msg))
            self.event_signal.set()
        return record

    async def notification(self, kind, ok, what):
        """Waits for (and consumes) a notification of kind that satisfies ok."""
        async def wait():
            while True:
                for i, (k, m) in enumerate(self.events):
                    if k == kind and ok(m):
                        del self.events[i]
                        return m
                self.event_signal.clear()
                await self.event_signal.wait()

        return await step(what, wait())


async def step(what, aw, timeout=STEP_TIMEOUT):
    try:
        return await slixmpptest.step(what, aw, timeout)
    except IqError as e:
        raise RuntimeError("%s: error reply %s" % (what, e.iq)) from None


def payload(text):
    el = ET.Element("{%s}entry" % NS_TEST)
    el.text = text
    return el


def payload_text(item):
    p = item["payload"]
    if p is None or p.tag != "{%s}entry" % NS_TEST:
        return None
    return p.text


def first_item(msg):
    items = list(msg["pubsub_event"]["items"])
    return items[0] if items else None


async def main(host, port):
    alice = Client(ALICE + "/slix", "secret")
    bob = Client(BOB + "/slix", "secret")
    for c in (alice, bob):
        c.connect((host, port))
    await step("login", asyncio.gather(alice.ready, bob.ready), 20)
    print("logged in:", alice.boundjid, bob.boundjid)
    ps_a, ps_b = alice.plugin["xep_0060"], bob.plugin["xep_0060"]
    try:
        # 1. Create with a configuration form.
        form = alice.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="pubsub#max_items", value="5")
        form.add_field(var="pubsub#access_model", value="open")
        form.add_field(var="pubsub#notify_retract", ftype="boolean", value=True)
        form.add_field(var="pubsub#notify_delete", ftype="boolean", value=True)
        await step("alice creates node %s" % NODE,
                   ps_a.create_node(SERVICE, NODE, config=form, timeout=STEP_TIMEOUT))
        iq = await step("alice gets the node configuration",
                        ps_a.get_node_config(SERVICE, NODE, timeout=STEP_TIMEOUT))
        values = iq["pubsub_owner"]["configure"]["form"].get_values()
        if str(values.get("pubsub#max_items")) != "5" or values.get("pubsub#access_model") != "open":
            raise RuntimeError("node configuration max_items=%r access_model=%r, want 5 and open: %s"
                               % (values.get("pubsub#max_items"), values.get("pubsub#access_model"), iq))
        print("node created with max_items", values["pubsub#max_items"],
              "access_model", values["pubsub#access_model"])

        # 2. Subscribe (bare JID).
        iq = await step("bob subscribes", ps_b.subscribe(SERVICE, NODE, timeout=STEP_TIMEOUT))
        sub = iq["pubsub"]["subscription"]
        if sub["subscription"] != "subscribed" or sub["jid"].bare != BOB:
            raise RuntimeError("subscription reply %s" % iq)
        print("bob subscribed:", sub["jid"], sub["subscription"], "subid", sub["subid"] or "-")

        # 3. Publish two items; bob gets both notifications with payloads.
        for item_id, text in (("one", "first entry"), ("two", "second entry")):
            iq = await step("alice publishes %s" % item_id,
                            ps_a.publish(SERVICE, NODE, id=item_id, payload=payload(text),
                                         timeout=STEP_TIMEOUT))
            got = iq["pubsub"]["publish"]["item"]["id"]
            if got and got != item_id:
                raise RuntimeError("publish of %s answered with item id %s" % (item_id, got))
        for item_id, text in (("one", "first entry"), ("two", "second entry")):
            m = await bob.notification(
                "publish",
                lambda m, i=item_id: m["pubsub_event"]["items"]["node"] == NODE
                and first_item(m) is not None and first_item(m)["id"] == i,
                "bob receives the notification of item %s" % item_id)
            if m["from"].bare != SERVICE:
                raise RuntimeError("notification from %s, want %s" % (m["from"], SERVICE))
            got = payload_text(first_item(m))
            if got != text:
                raise RuntimeError("notification of %s carries payload %r, want %r: %s" % (item_id, got, text, m))
        print("bob received both notifications with their payloads")

        # 4. Retrieve the items.
        iq = await step("bob gets the items", ps_b.get_items(SERVICE, NODE, timeout=STEP_TIMEOUT))
        items = {it["id"]: payload_text(it) for it in iq["pubsub"]["items"]}
        if items != {"one": "first entry", "two": "second entry"}:
            raise RuntimeError("items %r, want one and two with their payloads: %s" % (items, iq))
        print("bob retrieved", sorted(items))

        # 5. Retract one (notify='true').
        await step("alice retracts item one",
                   ps_a.retract(SERVICE, NODE, "one", notify=True, timeout=STEP_TIMEOUT))
        await bob.notification("retract",
                        lambda m: first_item(m) is not None and first_item(m)["id"] == "one",
                        "bob receives the retraction of item one")
        iq = await step("bob gets the items after the retraction",
                        ps_b.get_items(SERVICE, NODE, timeout=STEP_TIMEOUT))
        ids = [it["id"] for it in iq["pubsub"]["items"]]
        if ids != ["two"]:
            raise RuntimeError("items after retraction %r, want ['two']: %s" % (ids, iq))
        print("retraction notified; node keeps", ids)

        # 6. Purge, then delete.
        await step("alice purges the node", ps_a.purge(SERVICE, NODE, timeout=STEP_TIMEOUT))
        await bob.notification("purge", lambda m: m["pubsub_event"]["purge"]["node"] == NODE,
                        "bob receives the purge notification")
        iq = await step("bob gets the items after the purge",
                        ps_b.get_items(SERVICE, NODE, timeout=STEP_TIMEOUT))
        ids = [it["id"] for it in iq["pubsub"]["items"]]
        if ids:
            raise RuntimeError("items after purge %r, want none: %s" % (ids, iq))
        print("purge notified; node empty")
        await step("alice deletes the node", ps_a.delete_node(SERVICE, NODE, timeout=STEP_TIMEOUT))
        await bob.notification("delete", lambda m: m["pubsub_event"]["delete"]["node"] == NODE,
                        "bob receives the deletion notification")
        try:
            iq = await asyncio.wait_for(ps_a.get_node_config(SERVICE, NODE, timeout=STEP_TIMEOUT),
                                        STEP_TIMEOUT)
            raise RuntimeError("configuration of the deleted node: %s" % iq)
        except IqError as e:
            if e.condition != "item-not-found":
                raise RuntimeError("deleted node's configuration: %s, want item-not-found" % e.iq) from None
        except asyncio.TimeoutError:
            raise RuntimeError("timed out: configuration of the deleted node") from None
        print("deletion notified; node gone (item-not-found)")
    finally:
        for c in (alice, bob):
            c.disconnect()
        await asyncio.wait([asyncio.ensure_future(c.gone) for c in (alice, bob)], timeout=5)
    return 0


if __name__ == "__main__":
    slixmpptest.run(main)
