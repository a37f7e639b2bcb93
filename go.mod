module github.com/mote-xmpp/mote

go 1.26.8
