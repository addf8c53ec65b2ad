import type { Cluster } from 'ioredis';
import type { LuaScript } from './scripts.js';

const SLOTS = 16_384;

/** Which node serves each slot range, as one string: equal strings, same topology. */
export function slotFingerprint(client: Cluster): string {
  const parts: string[] = [];
  let start = 0;
  for (let slot = 1; slot <= SLOTS; slot += 1) {
    if (slot === SLOTS || client.slots[slot]?.[0] !== client.slots[start]?.[0]) {
      parts.push(`${start}-${slot - 1}:${client.slots[start]?.[0] ?? '-'}`);
      start = slot;
    }
  }
  return parts.join(',');
}

/** Asks the cluster for its current slot map (ioredis refreshes it by itself only on errors and periodically). */
export function refreshSlots(client: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    client.refreshSlotsCache((error) => {
      if (error) {
        reject(error);
      } else {
        resolve();
      }
    });
  });
}

/**
 * Proves the cluster can serve every slot through `client` now: each slot has a master, and every master
 * answers (loading the bus's scripts there, so the first EVALSHA on a newly promoted master does not fall
 * back to EVAL). Rejects on the first gap or failure; resolves with the slot fingerprint it checked.
 */
export async function verifyCluster(client: Cluster, scripts: readonly LuaScript[]): Promise<string> {
  const fingerprint = slotFingerprint(client);
  const masters = new Set<string>();
  for (let slot = 0; slot < SLOTS; slot += 1) {
    const master = client.slots[slot]?.[0];
    if (master === undefined) {
      throw new Error(`redis cluster: slot ${slot} has no master`);
    }
    masters.add(master);
  }
  const nodes = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  await Promise.all(
    [...masters].map(async (key) => {
      const node = nodes.get(key);
      if (node === undefined) {
        throw new Error(`redis cluster: master ${key} is not connected`);
      }
      await Promise.all(scripts.map((script) => node.script('LOAD', script.source)));
    }),
  );
  return fingerprint;
}
