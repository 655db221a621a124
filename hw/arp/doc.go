// Package arp knows which MAC address is behind each IP address on the LAN, so the web front can
// tell devices apart by the MAC they cannot easily change rather than by an IP that DHCP hands
// from one device to the next.
//
// A [Table] learns IP→MAC pairs by watching ARP on one interface: the sender of every request,
// reply and gratuitous announcement is recorded (ARP probes, whose sender address is 0.0.0.0,
// are not). Entries not seen again for [Options.MaxAge] age out. When an address turns up with
// another MAC — DHCP gave a departed device's lease to a new one — the newest pair wins and the
// change is logged. [Table.Lookup] answers from memory only; [Table.Resolve] may also ask the LAN
// (an ARP who-has from the box) and then the kernel's neighbour table (/proc/net/arp).
//
// # Capture
//
// Frames are read from an AF_PACKET socket bound to ETH_P_ARP on the interface, opened without
// cgo through golang.org/x/sys/unix, put in non-blocking mode and wrapped in an *os.File. That
// hands the descriptor to the Go runtime's poller, so a pending wait returns as soon as the file
// is closed: shutdown is prompt and leaks no goroutine. gopacket's pcapgo.EthernetHandle, the
// other pure-Go option, blocks in recvfrom and cannot be interrupted by Close, and its afpacket
// and pcap packages need cgo. The kernel filters by protocol, so only ARP frames cross into user
// space; frames the box itself sends are ignored (PACKET_IGNORE_OUTGOING). Frames are decoded
// by gopacket's DecodingLayerParser with this package's own Ethernet and ARP layers
// (frame.go), not gopacket/layers, whose init-time tables cost ~8 MB of memory; the ARP layer
// takes only Ethernet/IPv4 with 6- and 4-byte addresses and checks that before reading them
// (gopacket/layers computes the ARP length in a byte and can be made to slice out of bounds by
// hostile header lengths). The decoded frame keeps the Ethernet source apart from the ARP
// sender.
//
// The capture goroutine waits until a frame is queued and then drains the socket; [Table.Sync]
// drains it too, under the same mutex, so a caller can make the table current before a Lookup.
// That matters when an address changes hands: the kernel queues the new owner's ARP on our socket
// before it answers it, but the new owner's first request can reach a handler before the capture
// goroutine has run.
//
// The frame source is the small [FrameConn] interface: [Dial] opens the real socket, and [New]
// accepts any implementation, which is how the tests feed frames.
//
// # Trust
//
// ARP is not authenticated: any device on the LAN can claim any IP. Identifying devices by MAC is
// only as strong as the LAN it runs on, and a device can change its own MAC. The table makes
// spoofing visible (every change of MAC for an IP is logged) but cannot prevent it.
package arp
