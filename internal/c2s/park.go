package c2s

import (
	"errors"
	"net"
	"time"
)

// Parking idle sessions (docs/architecture.md, "Idle sessions").
//
// A bound session's reader goroutine blocks in a read almost all the time,
// and its stack is most of what an idle session costs. After
// c2s.park_idle_after without input the reader hands the socket to the
// process-wide poller and ends; when input arrives (or the connection must
// close) the poller starts a fresh reader, which carries on with the same
// decoder and TLS state. Nothing is lost in between: the reader parks only
// after a read returned a timeout, which crypto/tls reports only when it
// holds no decrypted input and needs more bytes from the socket, and the
// poller's registration is level-triggered, so bytes that arrived after
// that read wake it at once.
//
// run moves through these states; parking is the window in which the
// reader registers with the poller, and a wake that comes in that window
// (wakeRequested) makes the reader carry on itself instead of parking.
const (
	running int32 = iota
	parking
	parked
	wakeRequested
)

// errParked ends a reader goroutine whose connection is now parked.
var errParked = errors.New("c2s: parked")

// park tries to hand the connection to the poller; true means it is
// parked and the calling reader goroutine must end without touching the
// connection again.
func (c *Conn) park() bool {
	c.run.Store(parking)
	// A Close after this point sees parking and requests a wake; a Close
	// before it set closing, seen here.
	if c.isClosing() {
		c.run.Store(running)
		return false
	}
	if err := arm(c); err != nil {
		c.logger().Debug("cannot park", "err", err)
		c.run.Store(running)
		c.parkAfter = 0
		return false
	}
	c.srv.parked.Add(1)
	if c.run.CompareAndSwap(parking, parked) {
		c.srv.parks.Add(1)
		return true
	}
	c.srv.parked.Add(-1)
	c.run.Store(running) // woken while parking: keep reading
	return false
}

// wake starts a reader for a parked connection; the poller calls it when
// input arrives, and everything that closes a bound connection calls it
// so that the closing sequence has a reader. It is a no-op for a
// connection whose reader runs.
func (c *Conn) wake() {
	for {
		switch c.run.Load() {
		case parked:
			if c.run.CompareAndSwap(parked, running) {
				c.srv.parked.Add(-1)
				go c.serveBound()
				return
			}
		case parking:
			if c.run.CompareAndSwap(parking, wakeRequested) {
				return
			}
		default:
			return
		}
	}
}

// readTimedOut handles a read timeout of a bound session's reader. It
// reports errParked when the connection was parked, nil when the reader
// should read on, or err itself when the timeout is not the park timer's
// (the connection is closing).
func (c *Conn) readTimedOut(err error) error {
	var ne net.Error
	if c.parkAfter <= 0 || !errors.As(err, &ne) || !ne.Timeout() || c.isClosing() {
		return err
	}
	last := time.Unix(0, c.lastRead.Load())
	if time.Since(last) < c.parkAfter {
		// Input came since the timer was set: move it on.
		if c.setDeadline(last.Add(c.parkAfter), false) != nil {
			return err
		}
		return nil
	}
	if c.park() {
		return errParked
	}
	var t time.Time
	if c.parkAfter > 0 {
		t = time.Now().Add(c.parkAfter)
	}
	if c.setDeadline(t, false) != nil {
		return err
	}
	return nil
}
