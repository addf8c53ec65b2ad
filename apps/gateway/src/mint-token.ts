import { parseArgs } from 'node:util';
import { authConfig, mintDevToken, signingSecretOf } from '@gw/auth';
import { ConfigError, loadConfig } from '@gw/config';

/** `pnpm mint-token --sub 4 [--expires 7d]`: prints a development token signed with the configured secret. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sub: { type: 'string' }, expires: { type: 'string', default: '7d' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true || values.sub === undefined || values.sub === '') {
    console.error('Usage: pnpm mint-token --sub <user id> [--expires 7d]\nSigns with JWT_SECRET (HS256).');
    process.exit(values.help === true ? 0 : 2);
  }
  const { auth } = loadConfig(process.env, { auth: authConfig });
  const secret = signingSecretOf(auth);
  if (secret === undefined) {
    console.error('mint-token: the gateway verifies with a public key or JWKS; mint tokens with your identity provider.');
    process.exit(2);
  }
  const token = await mintDevToken({
    secret,
    sub: values.sub,
    expiresIn: values.expires,
    ...(auth.issuer === undefined ? {} : { issuer: auth.issuer }),
    ...(auth.audience === undefined ? {} : { audience: auth.audience }),
  });
  console.log(token);
}

main().catch((error: unknown) => {
  console.error(`mint-token: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
