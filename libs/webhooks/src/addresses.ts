import { BlockList, isIP } from "node:net";

// The addresses Galaxy's outbound calls treat as private or link-local (docs/pipeline.md): no
// webhook tool, callback or workspace base URL reaches them unless the allowlist names them.

// Two lists: a BlockList matches an IPv4 address against IPv6 rules through its mapped form.
const [BLOCKED_V4, BLOCKED_V6] = (() => {
  const ipv4 = new BlockList();
  const ipv6 = new BlockList();
  const v4: Array<[string, number]> = [
    ["0.0.0.0", 8], // "this network", unspecified
    ["10.0.0.0", 8], // private
    ["100.64.0.0", 10], // carrier-grade NAT
    ["127.0.0.0", 8], // loopback
    ["169.254.0.0", 16], // link-local (cloud metadata lives here)
    ["172.16.0.0", 12], // private
    ["192.0.0.0", 24], // IETF protocol assignments
    ["192.0.2.0", 24], // documentation
    ["192.88.99.0", 24], // 6to4 relay
    ["192.168.0.0", 16], // private
    ["198.18.0.0", 15], // benchmarking
    ["198.51.100.0", 24], // documentation
    ["203.0.113.0", 24], // documentation
    ["224.0.0.0", 4], // multicast
    ["240.0.0.0", 4], // reserved, and broadcast
  ];
  const v6: Array<[string, number]> = [
    ["::", 128], // unspecified
    ["::1", 128], // loopback
    ["::ffff:0:0", 96], // IPv4-mapped
    ["::", 96], // IPv4-compatible (deprecated)
    ["64:ff9b::", 96], // NAT64: may embed any IPv4 address
    ["64:ff9b:1::", 48], // local NAT64
    ["100::", 64], // discard
    ["2001::", 32], // Teredo
    ["2001:db8::", 32], // documentation
    ["2002::", 16], // 6to4: may embed any IPv4 address
    ["fc00::", 7], // unique-local
    ["fe80::", 10], // link-local
    ["fec0::", 10], // site-local (deprecated)
    ["ff00::", 8], // multicast
  ];
  for (const [network, prefix] of v4) ipv4.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of v6) ipv6.addSubnet(network, prefix, "ipv6");
  return [ipv4, ipv6];
})();

/** True for an address Galaxy reaches only when the allowlist names its host or the address itself. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  try {
    if (family === 4) return BLOCKED_V4.check(address, "ipv4");
    // Every IPv4-mapped address (::ffff:127.0.0.1, ::ffff:7f00:1) is refused: ::ffff:0:0/96 is on the list.
    if (family === 6) return BLOCKED_V6.check(address, "ipv6");
  } catch {
    // An address the block list cannot read (a scoped fe80::1%eth0) is never taken for public.
    return true;
  }
  return true; // not an address at all: never "public"
}

const LINK_LOCAL_V4 = new BlockList();
LINK_LOCAL_V4.addSubnet("169.254.0.0", 16, "ipv4");
const LINK_LOCAL_V6 = new BlockList();
LINK_LOCAL_V6.addSubnet("fe80::", 10, "ipv6");

/**
 * True for a link-local address (169.254.0.0/16, fe80::/10, or an IPv4-mapped/embedded form
 * of 169.254.x.x): cloud metadata services live here, so only an allowlist entry naming the
 * very address opens it. Anything unreadable counts as link-local.
 */
export function isLinkLocalAddress(address: string): boolean {
  const family = isIP(address);
  try {
    if (family === 4) return LINK_LOCAL_V4.check(address, "ipv4");
    if (family === 6) {
      if (LINK_LOCAL_V6.check(address, "ipv6")) return true;
      // ::ffff:169.254.169.254 and the like: the BlockList matches mapped forms against IPv4 rules.
      return LINK_LOCAL_V4.check(address, "ipv6");
    }
  } catch {
    return true;
  }
  return true;
}
