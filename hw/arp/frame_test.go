package arp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Frames as captured: a Linux host asking for the gateway, and the gateway's answer.
const (
	capturedRequest = "ffffffffffff02000000000a08060001080006040001" + "02000000000a0a4d000a" + "0000000000000a4d0001" +
		"000000000000000000000000000000000000"
	capturedReply = "02000000000a02000000000108060001080006040002" + "0200000000010a4d0001" + "02000000000a0a4d000a" +
		"000000000000000000000000000000000000"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withARPHeader returns a copy of the captured request with the ARP header's bytes at off set.
func withARPHeader(t testing.TB, off int, v ...byte) []byte {
	b := mustHex(t, capturedRequest)
	copy(b[ethHeaderLen+off:], v)
	return b
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    packet
		wantErr error
	}{
		{"request", mustHex(t, capturedRequest), packet{ethSrc: macA, op: layers.ARPRequest, senderMAC: macA, senderIP: ip10, targetIP: ipBox}, nil},
		{"reply", mustHex(t, capturedReply), packet{ethSrc: [6]byte(macBox), op: layers.ARPReply, senderMAC: [6]byte(macBox), senderIP: ipBox, targetMAC: macA, targetIP: ip10}, nil},
		{"unpadded", mustHex(t, capturedRequest)[:42], packet{ethSrc: macA, op: layers.ARPRequest, senderMAC: macA, senderIP: ip10, targetIP: ipBox}, nil},
		{"empty", nil, packet{}, errTruncated},
		{"short ethernet", mustHex(t, capturedRequest)[:13], packet{}, errTruncated},
		{"short ARP header", mustHex(t, capturedRequest)[:20], packet{}, errTruncated},
		{"short ARP body", mustHex(t, capturedRequest)[:41], packet{}, errTruncated},
		{"IPv4 not ARP", append(mustHex(t, capturedRequest)[:12], 0x08, 0x00), packet{}, errNotARP},
		{"not Ethernet hardware", withARPHeader(t, 0, 0x00, 0x06), packet{}, errNotEthIPv4},
		{"not IPv4", withARPHeader(t, 2, 0x86, 0xdd), packet{}, errNotEthIPv4},
		// gopacket computes 8+2*128+2*0 in a byte: 8, and would slice 128 bytes past a 60-byte frame.
		{"hardware length overflow", withARPHeader(t, 4, 128, 0), packet{}, errNotEthIPv4},
		{"protocol length 16", withARPHeader(t, 5, 16), packet{}, errNotEthIPv4},
		{"RARP operation", withARPHeader(t, 6, 0x00, 0x03), packet{}, errUnknownOp},
		// the Ethernet source and the ARP sender are reported apart, so a rule can compare them
		{"relayed", append(append(mustHex(t, capturedRequest)[:6:6], macBox...), mustHex(t, capturedRequest)[12:]...),
			packet{ethSrc: [6]byte(macBox), op: layers.ARPRequest, senderMAC: macA, senderIP: ip10, targetIP: ipBox}, nil},
	}
	d := newDecoder()
	for _, tc := range tests {
		got, err := d.decode(tc.in)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: decode() error = %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: decode() = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	b, err := encode(packet{op: layers.ARPReply, senderMAC: [6]byte(macBox), senderIP: ipBox, targetMAC: macA, targetIP: ip10}, macBox, macA[:])
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, capturedReply); !bytes.Equal(b, want) {
		t.Fatalf("encode() =\n% x\nwant\n% x", b, want)
	}
}

func TestWhoHas(t *testing.T) {
	b, err := whoHas(net.HardwareAddr(macA[:]), ip10, ipBox)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, capturedRequest); !bytes.Equal(b, want) {
		t.Fatalf("whoHas() =\n% x\nwant\n% x", b, want)
	}
	if _, err := whoHas(net.HardwareAddr(macA[:]), ip10, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Fatal("whoHas(IPv6) succeeded")
	}
}

// TestGopacketTrustsARPLengths records why this package's ARP layer checks the header's lengths
// before reading addresses: handed overflowing lengths, gopacket/layers' ARP decoder panics or
// reads past the frame.
func TestGopacketTrustsARPLengths(t *testing.T) {
	b := withARPHeader(t, 4, 128, 0)[ethHeaderLen:]
	var a layers.ARP
	defer func() {
		if r := recover(); r != nil {
			t.Logf("gopacket ARP.DecodeFromBytes panics on hlen=128 plen=0 (guarded in decode): %v", r)
		}
	}()
	if err := a.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err == nil {
		t.Logf("gopacket accepted hlen=128 plen=0 in a %d-byte body: sender MAC is %d bytes", len(b), len(a.SourceHwAddress))
	}
}

func TestFormatMAC(t *testing.T) {
	if got := formatMAC([6]byte{0xAA, 0x0b, 0xc0, 0xff, 0, 1}); got != "aa:0b:c0:ff:00:01" {
		t.Fatalf("formatMAC = %q", got)
	}
}

// FuzzDecode feeds arbitrary frames to the decoder: it must never panic, whatever it accepts
// must encode back to a frame that decodes to the same packet, and it must agree with
// gopacket/layers (the decoder it replaced) on every well-formed Ethernet/IPv4 ARP frame.
func FuzzDecode(f *testing.F) {
	f.Add(mustHex(f, capturedRequest))
	f.Add(mustHex(f, capturedReply))
	f.Add(mustHex(f, capturedRequest)[:42])
	f.Add(withARPHeader(f, 4, 128, 0))
	f.Add(withARPHeader(f, 4, 255, 255))
	f.Add(withARPHeader(f, 6, 0, 3))
	f.Add([]byte{})
	d := newDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := d.decode(b)
		if want, ok := layersDecode(b); ok != (err == nil) || ok && want != p {
			t.Fatalf("decode(% x) = %+v, %v; gopacket/layers says %+v, %v", b, p, err, want, ok)
		}
		if err != nil {
			return
		}
		_ = p.learnable()
		out, err := encode(p, b[6:12], b[0:6])
		if err != nil {
			t.Fatalf("encode(%+v) = %v", p, err)
		}
		q, err := d.decode(out)
		if err != nil || q != p {
			t.Fatalf("round trip: decode(encode(%+v)) = %+v, %v", p, q, err)
		}
		if !bytes.Equal(out[:12], b[:12]) {
			t.Fatalf("round trip changed Ethernet addresses: % x vs % x", out[:12], b[:12])
		}
	})
}

// layersDecode is the reference: gopacket/layers' Ethernet and ARP, on the frames this package
// takes (Ethernet/IPv4 with 6- and 4-byte addresses, a request or a reply; layers' own decoder
// cannot be handed other lengths safely).
func layersDecode(b []byte) (packet, bool) {
	if len(b) < ethHeaderLen+arpLen {
		return packet{}, false
	}
	var eth layers.Ethernet
	var a layers.ARP
	if eth.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil || eth.EthernetType != layers.EthernetTypeARP {
		return packet{}, false
	}
	h := b[ethHeaderLen:]
	if h[0] != 0 || h[1] != 1 || h[2] != 8 || h[3] != 0 || h[4] != 6 || h[5] != 4 {
		return packet{}, false
	}
	if a.DecodeFromBytes(h, gopacket.NilDecodeFeedback) != nil || a.Operation != layers.ARPRequest && a.Operation != layers.ARPReply {
		return packet{}, false
	}
	return packet{ethSrc: [6]byte(eth.SrcMAC), op: a.Operation, senderMAC: [6]byte(a.SourceHwAddress), senderIP: netip.AddrFrom4([4]byte(a.SourceProtAddress)),
		targetMAC: [6]byte(a.DstHwAddress), targetIP: netip.AddrFrom4([4]byte(a.DstProtAddress))}, true
}

// TestNewPacket: the layers are registered with gopacket, so its generic decoder uses them too.
func TestNewPacket(t *testing.T) {
	pk := gopacket.NewPacket(mustHex(t, capturedReply), layerTypeEthernet, gopacket.Default)
	if err := pk.ErrorLayer(); err != nil {
		t.Fatalf("NewPacket: %v", err.Error())
	}
	a, ok := pk.Layer(layerTypeARP).(*arpIPv4)
	if !ok {
		t.Fatalf("NewPacket layers = %v, want Ethernet and ARP", pk.Layers())
	}
	if a.op != opReply || a.senderMAC != [6]byte(macBox) || a.target != macA {
		t.Errorf("NewPacket ARP = %+v", a)
	}
	if got := layerTypeARP.String(); got != "ARP (multimsg)" {
		t.Errorf("layerTypeARP = %q", got)
	}
}
