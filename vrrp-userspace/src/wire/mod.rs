//! Packet views and representations: Ethernet, IPv4, IPv6, VRRP v2/v3, ARP, ICMPv6 ND.
