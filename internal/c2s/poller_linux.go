package c2s

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller is the process-wide epoll instance that watches parked
// connections (see park.go). Its goroutine sleeps in epoll_wait and starts
// a reader for each connection that becomes readable; one registration
// stays with a connection from its first park until it ends, armed once
// per park (EPOLLONESHOT) and keyed by an id rather than the descriptor,
// so that a late event for a closed connection cannot reach another one
// that reuses its descriptor number.
type poller struct {
	epfd  int
	mu    sync.Mutex
	conns map[uint64]*Conn
	next  uint64
}

var (
	pollerOnce sync.Once
	thePoller  *poller
	pollerErr  error
)

func getPoller() (*poller, error) {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = fmt.Errorf("c2s: epoll: %w", err)
			return
		}
		thePoller = &poller{epfd: fd, conns: make(map[uint64]*Conn)}
		go thePoller.loop()
	})
	return thePoller, pollerErr
}

func (p *poller) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("c2s: epoll_wait: %v", err)) // only EBADF/EFAULT/EINVAL: a bug
		}
		for i := range events[:n] {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				c.wake()
			}
		}
	}
}

// control runs f on c's socket descriptor; it fails once the socket is
// closed, so f never sees a descriptor number that was reused.
func control(c *Conn, f func(fd int) error) error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// arm registers c's socket for one readiness event. Only c's reader calls
// it (and disarm), so c.pollID needs no lock.
func arm(c *Conn) error {
	p, err := getPoller()
	if err != nil {
		return err
	}
	op := unix.EPOLL_CTL_MOD
	if c.pollID == 0 {
		op = unix.EPOLL_CTL_ADD
		p.mu.Lock()
		p.next++
		c.pollID = p.next
		p.conns[c.pollID] = c
		p.mu.Unlock()
	}
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(uint32(c.pollID)),
		Pad:    int32(uint32(c.pollID >> 32)),
	}
	err = control(c, func(fd int) error { return unix.EpollCtl(p.epfd, op, fd, &ev) })
	if err != nil && op == unix.EPOLL_CTL_ADD {
		p.forget(c)
	}
	return err
}

// disarm removes c from the poller when the connection ends.
func disarm(c *Conn) {
	if c.pollID == 0 {
		return
	}
	p := thePoller
	// A socket closed already left the epoll set with its descriptor.
	control(c, func(fd int) error { return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil) })
	p.forget(c)
}

func (p *poller) forget(c *Conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
	c.pollID = 0
}
