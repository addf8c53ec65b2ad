import { z } from 'zod';
import { defineConfigSection } from './section.js';
import type { SectionOutput } from './section.js';

/**
 * The deployment environment (section `environment`), owner of `GATEWAY_ENV`. It lives here, below every
 * package, because settings of many packages take their defaults from it (production: no paper trading
 * accounts, exchange hours, required keys); those sections `use` it rather than read the variable again.
 */
export const environmentConfig = defineConfigSection({
  name: 'environment',
  schema: z.object({
    gatewayEnv: z.enum(['development', 'production', 'test'], { error: 'expected development, production or test' }).default('development'),
  }),
  env: { GATEWAY_ENV: 'gatewayEnv' },
  docs: {
    gatewayEnv:
      'development (default), production or test. Production requires JWT keys and ADMIN_TOKEN, and changes the defaults of TRADING_DEFAULT_ACCOUNT (none) and MARKET_HOURS (exchange).',
  },
});

export type EnvironmentConfig = SectionOutput<typeof environmentConfig>;
