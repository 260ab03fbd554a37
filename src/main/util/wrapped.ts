/**
 * Numbers that wrap (RTP sequence numbers mod 2^16, timestamps mod 2^32) and their unwrapped,
 * "extended" values.
 */

/** `value` mod `modulus`, in [0, modulus) also for a negative value. */
export function wrapped(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

/**
 * The number ≡ value (mod modulus) closest to reference; at exactly half a modulus either way,
 * the one in reference's own period. Allocation-free: it runs for every received packet.
 */
export function closest(value: number, reference: number, modulus: number): number {
  // Within (−modulus, modulus) of reference, whatever reference's sign.
  const base = reference - wrapped(reference, modulus) + value;
  if (base - reference > modulus / 2) return base - modulus;
  if (reference - base > modulus / 2) return base + modulus;
  return base;
}
