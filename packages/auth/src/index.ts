export { AuthError, authFailureReasons, isAuthError } from './reasons.js';
export type { AuthErrorOptions, AuthFailureReason } from './reasons.js';
export {
  asymmetricAlgorithms,
  hmacAlgorithms,
  inspectPublicKey,
  normalizePem,
  supportedAlgorithms,
} from './algorithms.js';
export type { AsymmetricAlgorithm, HmacAlgorithm, JwtAlgorithm, PublicKeyInfo } from './algorithms.js';
export { authConfig, DEV_SECRET, keySourceOf, signingSecretOf, usesDefaultSecret } from './config.js';
export type { AuthConfig, KeySource } from './config.js';
export { createVerifier } from './verifier.js';
export type { JwtVerifier, Principal, TokenVerifier, VerifierOptions } from './verifier.js';
export { extractToken } from './extract.js';
export type { ExtractedToken, TokenInput, TokenPlace } from './extract.js';
export { checkAdminToken } from './admin.js';
export { mintDevToken } from './mint.js';
export type { MintDevTokenOptions } from './mint.js';
