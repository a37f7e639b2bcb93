// chat.mjs URL DOMAIN USERNAME PASSWORD PEER
//
// An xmpp.js client (@xmpp/client, the library browser applications use)
// logs in over XMPP over WebSocket (RFC 7395), sends PEER a chat message,
// waits for PEER's answer, and closes the stream (<close/>, then the
// WebSocket). The Go test (../../xmppjs_test.go) plays PEER over TCP. Every
// step is printed; the exit status says whether all of them happened.

import { client, xml } from "@xmpp/client";

const [url, domain, username, password, peer] = process.argv.slice(2);
if (!peer) {
  console.error("usage: chat.mjs URL DOMAIN USERNAME PASSWORD PEER");
  process.exit(2);
}
if (typeof WebSocket === "undefined") {
  console.error("no global WebSocket: use node >= 22, or node >= 20.10 with --experimental-websocket");
  process.exit(2);
}

const t0 = Date.now();
const log = (...args) => console.log(`${Date.now() - t0}ms`, ...args);
const fail = (why) => {
  console.error("FAIL:", why);
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 30_000);

const xmpp = client({ service: url, domain, username, password, resource: "xmppjs" });
xmpp.on("error", (err) => fail(err?.stack ?? err));
xmpp.on("status", (status) => log("status", status));
xmpp.on("element", (el) => log("<-", el.toString()));
xmpp.on("send", (el) => log("->", el.toString()));

xmpp.on("stanza", async (stanza) => {
  if (!stanza.is("message")) return;
  const body = stanza.getChildText("body");
  log("received", stanza.attrs.from, JSON.stringify(body));
  if (stanza.attrs.from !== peer || body !== "hello from tcp") {
    fail("unexpected message " + stanza.toString());
  }
  await xmpp.stop();
  clearTimeout(timer);
  log("closed");
});

// Presence and the message go out once stream management (XEP-0198) is on.
// xmpp.js 0.14 resets its count of received stanzas for <enabled/> in a
// promise continuation, which runs only after everything that came in the
// same socket read: an <r/> among it is answered with the stanzas received
// before <enabled/> still counted, and the server rightly closes the stream
// (handled-count-too-high). Sending nothing until one macrotask after
// <enabled/> keeps this test about the server.
xmpp.on("online", (address) => log("online", address.toString()));
xmpp.on("nonza", (el) => {
  if (el.is("enabled", "urn:xmpp:sm:3")) setTimeout(start, 0);
});

async function start() {
  if (!xmpp.streamManagement.enabled) fail("stream management is not enabled");
  await xmpp.send(xml("presence"));
  await xmpp.send(
    xml("message", { to: peer, type: "chat", id: "xmppjs-1" }, xml("body", {}, "hello from xmpp.js")),
  );
  log("sent");
}

await xmpp.start();
