package main

import (
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): a socket
// bound to a source address gets its port at connect time, so the port
// only has to be unique for its 4-tuple rather than for the address.
const ipBindAddressNoPort = 24

// bindNoPort is a net.Dialer Control function that sets
// IP_BIND_ADDRESS_NO_PORT; failure to set it is not an error.
func bindNoPort(network, address string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}

// raiseNoFile raises the soft limit on open files to the hard limit and
// returns the new soft limit.
func raiseNoFile() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
