package jid_test

import (
	"fmt"

	"github.com/mote-xmpp/mote/jid"
)

func ExampleParse() {
	j, err := jid.Parse("Juliet@Example.COM./Balcony")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(j)
	fmt.Printf("local=%q domain=%q resource=%q\n", j.Local(), j.Domain(), j.Resource())

	_, err = jid.Parse("foo bar@example.com")
	fmt.Println(err)
	// Output:
	// juliet@example.com/Balcony
	// local="juliet" domain="example.com" resource="Balcony"
	// jid: invalid localpart: precis: disallowed rune encountered
}

func ExampleJID_Bare() {
	j := jid.MustParse("juliet@example.com/balcony")
	fmt.Println(j.Bare())
	fmt.Println(j.Bare().IsBare(), j.IsBare())
	fmt.Println(j.Domainpart())
	// Output:
	// juliet@example.com
	// true false
	// example.com
}

func ExampleNew() {
	j, err := jid.New("Σ", "xn--bcher-kva.example", "phone")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(j)
	// Output:
	// σ@bücher.example/phone
}

func ExampleJID_WithResource() {
	bare := jid.MustParse("juliet@example.com")
	full, err := bare.WithResource("orchard")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(full, full.Bare() == bare)
	// Output:
	// juliet@example.com/orchard true
}
