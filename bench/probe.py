#!/usr/bin/python3
"""Smoke probe for bench/compare: log in over STARTTLS with one SASL
mechanism, send a message to our own full JID, wait for it, disconnect.

    probe.py HOST PORT JID PASSWORD [MECHANISM]

Without MECHANISM slixmpp picks one. Forcing SCRAM-SHA-1 fails against a
server that offers SCRAM-SHA-1-PLUS (mote): slixmpp 1.8 then sends the gs2
flag "y", which RFC 5802 tells the server to treat as a downgrade.

Exits 0 when the message came back within 20 seconds. Uses Debian's
python3-slixmpp (an independent client implementation), so a server that
passes this probe but fails under moteload points at the load generator.
The certificate is not verified: the servers use a throwaway self-signed
certificate on loopback.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp


class Probe(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mech):
        super().__init__(jid, password)
        self.ok = False
        self.token = "probe-%d" % id(self)
        if mech:
            self['feature_mechanisms'].use_mech = mech
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.message)
        self.add_event_handler("no_auth", self.failed)

    async def start(self, _event):
        self.send_message(mto=self.boundjid.full, mbody=self.token, mtype="chat")

    def message(self, msg):
        if msg["body"] == self.token:
            self.ok = True
            self.disconnect()

    def failed(self, _event):
        print("probe: no mechanism succeeded", file=sys.stderr)
        self.disconnect()


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, jid, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    mech = sys.argv[5] if len(sys.argv) > 5 else None
    logging.basicConfig(level=logging.CRITICAL)
    xmpp = Probe(jid, password, mech)
    xmpp.connect(address=(host, port), force_starttls=True, disable_starttls=False)
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 20))
    except asyncio.TimeoutError:
        print("probe: timed out", file=sys.stderr)
    if xmpp.ok:
        print("probe: %s logged in with %s and got its message back"
              % (jid, xmpp['feature_mechanisms'].mech.name if xmpp['feature_mechanisms'].mech else mech))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
