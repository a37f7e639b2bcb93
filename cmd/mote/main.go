// Command mote is an XMPP server for the Internet of Things.
//
// main only parses the command line, loads the configuration, builds the
// server and waits for a signal; everything else lives in internal/.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "mote:", err)
		os.Exit(1)
	}
}
