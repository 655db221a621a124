package arp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/google/gopacket"
)

// Sizes of an Ethernet frame carrying ARP for IPv4.
const (
	ethHeaderLen = 14
	arpLen       = 28   // Ethernet/IPv4 ARP body
	minFrameLen  = 60   // minimum Ethernet frame without FCS; shorter frames are padded
	maxFrameLen  = 1514 // read buffer: anything longer is truncated, which ARP never is
)

// Wire values (IEEE 802 EtherType, RFC 826 and IANA ARP parameters).
const (
	etherTypeARP  = 0x0806
	etherTypeIPv4 = 0x0800
	hwEthernet    = 1 // ARP hardware type
	opRequest     = 1
	opReply       = 2
)

var (
	errNotARP     = errors.New("not an ARP frame")
	errNotEthIPv4 = errors.New("ARP is not Ethernet/IPv4")
	errTruncated  = errors.New("truncated ARP frame")
	errUnknownOp  = errors.New("ARP operation is neither request nor reply")
	broadcastMAC  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// This package's own Ethernet and ARP layers for gopacket, in its application range
// (1000–1999). They replace gopacket/layers, whose init fills 65,536-entry tables of decoders
// full of pointers: ~8 MB of resident memory that every GC scans, ~7 ms of start-up and
// 1.3 MB of binary, for the two fixed-size headers this package reads (issue 19).
var (
	layerTypeEthernet = gopacket.RegisterLayerType(1906, gopacket.LayerTypeMetadata{Name: "Ethernet (multimsg)", Decoder: gopacket.DecodeFunc(decodeEthernet)})
	layerTypeARP      = gopacket.RegisterLayerType(1907, gopacket.LayerTypeMetadata{Name: "ARP (multimsg)", Decoder: gopacket.DecodeFunc(decodeARP)})
)

// ethernet is an Ethernet II header without 802.1Q tags (ARP on a tagged VLAN reaches an
// interface bound to that VLAN untagged).
type ethernet struct {
	contents, payload []byte
	dst, src          [6]byte
	etherType         uint16
}

func (*ethernet) LayerType() gopacket.LayerType  { return layerTypeEthernet }
func (*ethernet) CanDecode() gopacket.LayerClass { return layerTypeEthernet }
func (e *ethernet) LayerContents() []byte        { return e.contents }
func (e *ethernet) LayerPayload() []byte         { return e.payload }

// NextLayerType is this package's ARP for ARP frames; anything else is left undecoded.
func (e *ethernet) NextLayerType() gopacket.LayerType {
	if e.etherType == etherTypeARP {
		return layerTypeARP
	}
	return gopacket.LayerTypePayload
}

func (e *ethernet) DecodeFromBytes(b []byte, df gopacket.DecodeFeedback) error {
	if len(b) < ethHeaderLen {
		df.SetTruncated()
		return errTruncated
	}
	e.dst, e.src = [6]byte(b[0:6]), [6]byte(b[6:12])
	e.etherType = binary.BigEndian.Uint16(b[12:14])
	e.contents, e.payload = b[:ethHeaderLen], b[ethHeaderLen:]
	return nil
}

func (e *ethernet) SerializeTo(buf gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	b, err := buf.PrependBytes(ethHeaderLen)
	if err != nil {
		return err
	}
	copy(b[0:6], e.dst[:])
	copy(b[6:12], e.src[:])
	binary.BigEndian.PutUint16(b[12:14], e.etherType)
	return nil
}

// arpIPv4 is an ARP message for IPv4 over Ethernet (RFC 826): the only kind the box learns
// from. Every other hardware type, protocol or address length is refused while decoding, so
// the addresses always have their fixed sizes.
type arpIPv4 struct {
	contents           []byte
	op                 uint16
	senderMAC, target  [6]byte
	senderIP, targetIP [4]byte
}

func (*arpIPv4) LayerType() gopacket.LayerType     { return layerTypeARP }
func (*arpIPv4) CanDecode() gopacket.LayerClass    { return layerTypeARP }
func (*arpIPv4) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }
func (a *arpIPv4) LayerContents() []byte           { return a.contents }
func (*arpIPv4) LayerPayload() []byte              { return nil }

// DecodeFromBytes reads the fixed 28-byte Ethernet/IPv4 form; what follows it (the padding to
// the Ethernet minimum) is neither payload nor an error.
func (a *arpIPv4) DecodeFromBytes(b []byte, df gopacket.DecodeFeedback) error {
	if len(b) < 8 {
		df.SetTruncated()
		return errTruncated
	}
	if binary.BigEndian.Uint16(b[0:2]) != hwEthernet || binary.BigEndian.Uint16(b[2:4]) != etherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return errNotEthIPv4
	}
	if len(b) < arpLen {
		df.SetTruncated()
		return errTruncated
	}
	a.op = binary.BigEndian.Uint16(b[6:8])
	a.senderMAC, a.senderIP = [6]byte(b[8:14]), [4]byte(b[14:18])
	a.target, a.targetIP = [6]byte(b[18:24]), [4]byte(b[24:28])
	a.contents = b[:arpLen]
	return nil
}

func (a *arpIPv4) SerializeTo(buf gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	b, err := buf.PrependBytes(arpLen)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(b[0:2], hwEthernet)
	binary.BigEndian.PutUint16(b[2:4], etherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], a.op)
	copy(b[8:14], a.senderMAC[:])
	copy(b[14:18], a.senderIP[:])
	copy(b[18:24], a.target[:])
	copy(b[24:28], a.targetIP[:])
	return nil
}

// decodeEthernet and decodeARP let gopacket.NewPacket decode with these layers too.
func decodeEthernet(b []byte, p gopacket.PacketBuilder) error {
	e := &ethernet{}
	if err := e.DecodeFromBytes(b, p); err != nil {
		return err
	}
	p.AddLayer(e)
	return p.NextDecoder(e.NextLayerType())
}

func decodeARP(b []byte, p gopacket.PacketBuilder) error {
	a := &arpIPv4{}
	if err := a.DecodeFromBytes(b, p); err != nil {
		return err
	}
	p.AddLayer(a)
	return nil
}

// packet is the part of an ARP frame the table cares about.
type packet struct {
	ethSrc    [6]byte // the Ethernet source: who put the frame on the wire
	op        uint16  // opRequest or opReply
	senderMAC [6]byte // the ARP sender: who the frame says it is about
	senderIP  netip.Addr
	targetMAC [6]byte
	targetIP  netip.Addr
}

// decoder decodes frames with gopacket's DecodingLayerParser into this package's preallocated
// layers; one per goroutine (it is not safe for concurrent use).
type decoder struct {
	eth     ethernet
	arp     arpIPv4
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 2)}
	d.parser = gopacket.NewDecodingLayerParser(layerTypeEthernet, &d.eth, &d.arp)
	d.parser.IgnoreUnsupported = true
	return d
}

// decode parses an Ethernet frame carrying ARP for IPv4.
func (d *decoder) decode(b []byte) (packet, error) {
	if err := d.parser.DecodeLayers(b, &d.decoded); err != nil {
		return packet{}, err
	}
	if len(d.decoded) == 0 {
		return packet{}, errTruncated
	}
	if d.eth.etherType != etherTypeARP {
		return packet{}, errNotARP
	}
	if len(d.decoded) != 2 || d.decoded[1] != layerTypeARP {
		return packet{}, errTruncated // Ethernet header alone: the ARP body is missing
	}
	a := &d.arp
	if a.op != opRequest && a.op != opReply {
		return packet{}, errUnknownOp
	}
	return packet{ethSrc: d.eth.src, op: a.op, senderMAC: a.senderMAC, senderIP: netip.AddrFrom4(a.senderIP),
		targetMAC: a.target, targetIP: netip.AddrFrom4(a.targetIP)}, nil
}

// encode builds the Ethernet frame for p, sent from src to dst and padded to the Ethernet
// minimum.
func encode(p packet, src, dst net.HardwareAddr) ([]byte, error) {
	if !p.senderIP.Is4() || !p.targetIP.Is4() || len(src) != 6 || len(dst) != 6 {
		return nil, errNotEthIPv4
	}
	eth := ethernet{dst: [6]byte(dst), src: [6]byte(src), etherType: etherTypeARP}
	arp := arpIPv4{op: p.op, senderMAC: p.senderMAC, senderIP: p.senderIP.As4(), target: p.targetMAC, targetIP: p.targetIP.As4()}
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
	p := packet{op: opRequest, senderIP: sender, targetIP: target}
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
