//go:build !linux

package main

import "syscall"

// bindNoPort does nothing outside Linux.
func bindNoPort(network, address string, rc syscall.RawConn) error { return nil }

// raiseNoFile does nothing outside Linux; 0 means unknown.
func raiseNoFile() (uint64, error) { return 0, nil }
