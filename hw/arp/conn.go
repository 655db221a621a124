package arp

// FrameConn is where a Table reads and writes Ethernet frames carrying ARP. ReadFrame blocks
// until a frame arrives and must return promptly (with an error) once Close is called; the
// watcher relies on that for shutdown.
type FrameConn interface {
	ReadFrame(b []byte) (int, error)
	WriteFrame(b []byte) error
	Close() error
}
