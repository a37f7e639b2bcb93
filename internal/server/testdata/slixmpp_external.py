"""slixmpp_external.py HOST PORT BUNDLE JID

A device logs in with the client certificate in BUNDLE (its key and
certificate, as mote device provision writes it) by SASL EXTERNAL
(XEP-0178), with slixmpp's own EXTERNAL mechanism and no password, and
publishes a reading to its telemetry node devices/<name>.
"""
import sys

from slixmpp.xmlstream import ET

from slixmpptest import Client, run, step


async def main(host, port):
    bundle, jid = sys.argv[3], sys.argv[4]
    dev = Client(jid, None, sasl_mech="EXTERNAL")
    dev.ssl_context.load_cert_chain(bundle)
    dev.register_plugin("xep_0060")
    dev.connect((host, port))
    await step("login with the certificate", dev.ready)
    if dev.boundjid.bare != jid:
        raise RuntimeError("bound %s, want %s" % (dev.boundjid, jid))
    name = jid.split("@")[0]
    payload = ET.fromstring(
        "<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'><node nodeId='%s'>"
        "<timestamp value='2026-11-24T10:00:00Z'><numeric name='heartRate' momentary='true' "
        "automaticReadout='true' value='72' unit='bpm'/></timestamp></node></fields>" % name)
    await step("publish a reading",
               dev["xep_0060"].publish("pubsub." + jid.split("@")[1], "devices/" + name, id="slix-1", payload=payload))
    dev.disconnect()
    await step("disconnect", dev.gone)
    return 0


run(main)
