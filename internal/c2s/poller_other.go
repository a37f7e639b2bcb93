//go:build !linux

package c2s

import "errors"

// Without epoll, sessions keep their reader goroutine (see park.go).
func arm(*Conn) error { return errors.New("parking needs Linux") }

func disarm(*Conn) {}
