package arp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Sizes of an Ethernet frame carrying ARP for IPv4.
const (
	ethHeaderLen = 14
	arpLen       = 28   // Ethernet/IPv4 ARP body
	minFrameLen  = 60   // minimum Ethernet frame without FCS; shorter frames are padded
	maxFrameLen  = 1514 // read buffer: anything longer is truncated, which ARP never is
)

var (
	errNotARP     = errors.New("not an ARP frame")
	errNotEthIPv4 = errors.New("ARP is not Ethernet/IPv4")
	errTruncated  = errors.New("truncated ARP frame")
	errUnknownOp  = errors.New("ARP operation is neither request nor reply")
	broadcastMAC  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	errBadLayers  = errors.New("ARP frame did not decode as Ethernet+ARP")
)

// packet is the part of an ARP frame the table cares about.
type packet struct {
	op        uint16 // layers.ARPRequest or layers.ARPReply
	senderMAC [6]byte
	senderIP  netip.Addr
	targetMAC [6]byte
	targetIP  netip.Addr
}

// decoder decodes frames with gopacket's layers into preallocated layer structs; one per
// goroutine (it is not safe for concurrent use).
type decoder struct {
	eth     layers.Ethernet
	arp     layers.ARP
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 2)}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &d.eth, &d.arp)
	d.parser.IgnoreUnsupported = true
	return d
}

// decode parses an Ethernet frame carrying ARP for IPv4. It checks the ARP header itself before
// gopacket sees it: gopacket computes the ARP length in a uint8 (8 + 2*hlen + 2*plen), so hostile
// address lengths wrap around and make it slice past the frame.
func (d *decoder) decode(b []byte) (packet, error) {
	if len(b) < ethHeaderLen {
		return packet{}, errTruncated
	}
	if layers.EthernetType(binary.BigEndian.Uint16(b[12:14])) != layers.EthernetTypeARP {
		return packet{}, errNotARP
	}
	a := b[ethHeaderLen:]
	if len(a) < 8 {
		return packet{}, errTruncated
	}
	if binary.BigEndian.Uint16(a[0:2]) != uint16(layers.LinkTypeEthernet) ||
		binary.BigEndian.Uint16(a[2:4]) != uint16(layers.EthernetTypeIPv4) ||
		a[4] != 6 || a[5] != 4 {
		return packet{}, errNotEthIPv4
	}
	if len(a) < arpLen {
		return packet{}, errTruncated
	}
	if err := d.parser.DecodeLayers(b, &d.decoded); err != nil {
		return packet{}, err
	}
	if len(d.decoded) != 2 || d.decoded[1] != layers.LayerTypeARP {
		return packet{}, errBadLayers
	}
	p := packet{op: d.arp.Operation}
	if p.op != layers.ARPRequest && p.op != layers.ARPReply {
		return packet{}, errUnknownOp
	}
	copy(p.senderMAC[:], d.arp.SourceHwAddress)
	copy(p.targetMAC[:], d.arp.DstHwAddress)
	p.senderIP = netip.AddrFrom4([4]byte(d.arp.SourceProtAddress))
	p.targetIP = netip.AddrFrom4([4]byte(d.arp.DstProtAddress))
	return p, nil
}

// encode builds the Ethernet frame for p, sent from src to dst and padded to the Ethernet
// minimum.
func encode(p packet, src, dst net.HardwareAddr) ([]byte, error) {
	if !p.senderIP.Is4() || !p.targetIP.Is4() {
		return nil, errNotEthIPv4
	}
	sip, tip := p.senderIP.As4(), p.targetIP.As4()
	eth := layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeARP}
	arp := layers.ARP{
		AddrType:          layers.LinkTypeEthernet,
		Protocol:          layers.EthernetTypeIPv4,
		HwAddressSize:     6,
		ProtAddressSize:   4,
		Operation:         p.op,
		SourceHwAddress:   p.senderMAC[:],
		SourceProtAddress: sip[:],
		DstHwAddress:      p.targetMAC[:],
		DstProtAddress:    tip[:],
	}
	buf := gopacket.NewSerializeBufferExpectedSize(ethHeaderLen, arpLen)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, &eth, &arp); err != nil {
		return nil, err
	}
	out := make([]byte, minFrameLen)
	copy(out, buf.Bytes())
	return out, nil
}

// whoHas builds the broadcast request asking who has target, from the interface's MAC and
// (when it has one on target's subnet) address; sender 0.0.0.0 makes it an ARP probe, which
// hosts answer as well (RFC 5227).
func whoHas(mac net.HardwareAddr, sender, target netip.Addr) ([]byte, error) {
	p := packet{op: layers.ARPRequest, senderIP: sender, targetIP: target}
	copy(p.senderMAC[:], mac)
	return encode(p, mac, broadcastMAC)
}

// learnable reports whether the sender of p names a unicast device: probes (sender 0.0.0.0),
// broadcast, multicast and zero addresses teach nothing.
func (p packet) learnable() bool {
	ip := p.senderIP
	if !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() ||
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	m := p.senderMAC
	if m[0]&1 != 0 || m == [6]byte{} { // multicast/broadcast bit, or all zero
		return false
	}
	return true
}

// formatMAC writes m as lower-case "aa:bb:cc:dd:ee:ff".
func formatMAC(m [6]byte) string {
	const hex = "0123456789abcdef"
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = hex[x>>4]
		b[3*i+1] = hex[x&0xf]
	}
	return string(b[:])
}
