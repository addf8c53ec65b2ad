// CPU cost of one token verification, first presentation vs again (the verification cache), in this process:
// CPU time is measured, not wall time, so other load on the machine changes it less than it changes the
// handshake rows. `pnpm --filter @gw/bench verify-cost`
import { createVerifier, mintDevToken } from '@gw/auth';
import type { AuthConfig } from '@gw/auth';

const COUNT = 10_000;
const secret = 'verify-cost-secret';

async function cpuMicrosPerCall(tokens: readonly string[], verify: (token: string) => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  for (const token of tokens) {
    await verify(token);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / tokens.length;
}

async function main(): Promise<void> {
  const tokens = await Promise.all(Array.from({ length: COUNT }, (_, i) => mintDevToken({ secret, sub: i + 1, expiresIn: '1h' })));
  for (const tokenCacheSize of [0, 10_000]) {
    // The auth section as the gateway parses it from JWT_SECRET and TOKEN_CACHE_SIZE (other settings default).
    const auth: AuthConfig = { secret, clockToleranceS: 5, allowNoExp: false, tokenCacheSize, tokenCacheMaxAgeS: 300 };
    const verifier = await createVerifier(auth);
    // Warm the JIT on tokens outside the measured set.
    const warm = await Promise.all(Array.from({ length: 2000 }, (_, i) => mintDevToken({ secret, sub: `warm-${i}`, expiresIn: '1h' })));
    await cpuMicrosPerCall(warm, (t) => verifier.verify(t));
    const first = await cpuMicrosPerCall(tokens, (t) => verifier.verify(t));
    const again = await cpuMicrosPerCall(tokens, (t) => verifier.verify(t));
    console.log(`TOKEN_CACHE_SIZE=${tokenCacheSize}: HS256, ${COUNT} tokens: first ${first.toFixed(1)} µs CPU each, again ${again.toFixed(1)} µs CPU each`);
  }
}

await main();
