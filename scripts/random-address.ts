/**
 * A random documentation-range IPv6 address (2001:db8::/32), each in its own /64: the login rate
 * limit counts an IPv6 client per /64, so simulated users must not share one.
 */
export function randomClientAddress(): string {
  const [a, b, c, d] = Array.from(crypto.getRandomValues(new Uint16Array(4)), (part) => part.toString(16));
  return `2001:db8:${a}:${b}::${c}:${d}`;
}
