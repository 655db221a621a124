package arp

// FrameConn is where a Table reads and writes Ethernet frames carrying ARP.
//
// Reading is split in two so that a request handler can make the table current (Table.Sync)
// while the capture goroutine waits: Wait blocks until a frame is queued, without taking it, and
// must return promptly (with an error) once Close is called; Drain hands every frame already
// queued to fn and returns without blocking. The table never calls Drain concurrently with
// itself; fn must not keep the slice.
type FrameConn interface {
	Wait() error
	Drain(fn func(frame []byte)) error
	WriteFrame(b []byte) error
	Close() error
}
