// Package arp knows which MAC address is behind each IP on the LAN. This first step reads the
// kernel's neighbour table (/proc/net/arp); the ARP watcher plugs in behind the same methods.
package arp
