import { z } from 'zod';

/**
 * Reusable field schemas for values that arrive as environment strings. Each keeps the user's wording in its
 * error message so the startup error says what was expected.
 */

/** true/false, 1/0, yes/no, on/off. */
export const envBoolean = () => z.stringbool({ error: 'expected true or false' });

/** A whole number within [min, max]. */
export const envInt = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected a whole number from ${min} to ${max}` })
    .int({ error: `expected a whole number from ${min} to ${max}` })
    .min(min, { error: `expected a whole number from ${min} to ${max}` })
    .max(max, { error: `expected a whole number from ${min} to ${max}` });

/** Milliseconds, a whole number ≥ 0. */
export const envMs = (max = 86_400_000) => envInt(0, max);

/** A comma-separated list of non-empty items (spaces trimmed). */
export const envList = () =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    );

/** A comma-separated list of TCP ports, at least one. */
export const envPortList = () =>
  z
    .string()
    .transform((s, ctx) => {
      const items = s.split(',').map((p) => p.trim());
      const ports = items.map(Number);
      if (items.length === 0 || ports.some((p, i) => items[i] === '' || !Number.isInteger(p) || p < 0 || p > 65535)) {
        ctx.addIssue({ code: 'custom', message: 'expected a comma-separated list of ports from 0 to 65535' });
        return z.NEVER;
      }
      // Port 0 ("any free port") may repeat; a fixed port is bound once.
      return ports.filter((p, i) => p === 0 || ports.indexOf(p) === i);
    });
