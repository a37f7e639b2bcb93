"""What the slixmpp interoperability scripts share (Debian's python3-slixmpp).

xmpptest.RunSlixmpp puts this directory on PYTHONPATH and runs a script as
SCRIPT HOST PORT; the script calls run(main), where main(host, port) is a
coroutine that raises RuntimeError naming the step that failed.
"""
import asyncio
import logging
import os
import ssl
import sys

import slixmpp

STEP_TIMEOUT = 10


class Client(slixmpp.ClientXMPP):
    """A client for the test server: its self-signed certificate is
    accepted; ready resolves once started() has run after login (or fails
    with the authentication), gone once the connection is closed."""

    def __init__(self, jid, password, **kwargs):
        super().__init__(jid, password, **kwargs)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        loop = asyncio.get_event_loop()
        self.ready = loop.create_future()
        self.gone = loop.create_future()
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", self._on_failed)
        self.add_event_handler("disconnected", self._on_disconnected)

    async def started(self):
        """Runs after login; by default sends initial presence."""
        self.send_presence()

    async def _on_start(self, _):
        try:
            await self.started()
        except Exception as e:  # noqa: BLE001 - reported through ready
            if not self.ready.done():
                self.ready.set_exception(RuntimeError("%s: after login: %r" % (self.boundjid, e)))
            return
        if not self.ready.done():
            self.ready.set_result(True)

    def _on_failed(self, _):
        if not self.ready.done():
            self.ready.set_exception(RuntimeError("authentication failed for %s" % self.boundjid))

    def _on_disconnected(self, _):
        if not self.gone.done():
            self.gone.set_result(True)


async def step(what, aw, timeout=STEP_TIMEOUT):
    """Awaits aw, failing with what when it takes longer than timeout."""
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise RuntimeError("timed out: " + what) from None


def run(main, limit=30):
    """Runs main(host, port) from the command line within limit seconds
    and exits 0 on success; otherwise prints the failure and exits 1.
    SLIXMPP_DEBUG=1 in the environment logs every stanza."""
    host, port = sys.argv[1], int(sys.argv[2])
    if os.environ.get("SLIXMPP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    try:
        rc = asyncio.run(asyncio.wait_for(main(host, port), limit))
    except Exception as e:  # noqa: BLE001 - report any failure as exit 1
        print("FAILED:", e if isinstance(e, RuntimeError) else repr(e), file=sys.stderr)
        rc = 1
    sys.exit(rc)
