package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mote-xmpp/mote/internal/pki"
)

// A device gets a certificate from the device CA, presents it in the TLS
// handshake, and the server verifies it and reads the JID from its SAN.
func Example() {
	dir, err := os.MkdirTemp("", "pki-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ca, err := pki.LoadOrCreateCA(dir, "example.com")
	if err != nil {
		log.Fatal(err)
	}
	issued, err := ca.Issue(pki.IssueRequest{JID: "sensor1@example.com"})
	if err != nil {
		log.Fatal(err)
	}

	// The device loads its bundle as certificate and key.
	pair, err := tls.X509KeyPair(issued.Bundle, issued.Bundle)
	if err != nil {
		log.Fatal(err)
	}

	// The server verifies what the device presented.
	v, err := pki.NewVerifier(pki.VerifierConfig{Roots: []*x509.Certificate{ca.Certificate()}})
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := v.Verify([]*x509.Certificate{pair.Leaf}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	id, err := pki.Identities(leaf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.XMPPAddrs)
	// Output: [sensor1@example.com]
}
