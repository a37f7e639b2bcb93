// Package pki is the certificate side of client-certificate login (SASL
// EXTERNAL, XEP-0178 version 1.2): mote's own device certificate authority,
// the subjectAltName encoding that carries a device's JID, and the
// verification of the certificate chain a client presents in the TLS
// handshake.
//
// A device certificate names its JID in an id-on-xmppAddr otherName of the
// subjectAltName extension (RFC 6120 §13.7.1.4, XEP-0178 §2). Identities
// reads that extension and nothing else: the subject DN, including its
// common name and emailAddress, is never an identity, so a certificate
// cannot claim a JID its SAN does not carry.
//
// Verification is in two steps, kept apart so that the SASL layer decides
// what a verified identity may do: Verifier.Verify checks the chain, the
// clientAuth extended key usage, the validity period and revocation, and
// Identities then lists the addresses the verified leaf carries. Choosing
// among several addresses and matching the authorization identity (the
// three cases of XEP-0178 §2) is left to the caller.
package pki
